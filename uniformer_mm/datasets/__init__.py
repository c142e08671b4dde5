"""Embedded data for the demos: deterministic synthetic shape data sets,
generated on first use (see :mod:`.synthetic`).

Names are resolved lazily so that ``python -m uniformer_mm.datasets.synthetic``
runs the module cleanly.
"""
import importlib

# public name -> the module that defines it (imported on first use)
_WHERE = {
    name: module
    for module, names in (
        ('.synthetic',
         ('DEFAULT_COCO_ROOT', 'DEFAULT_SEG_ROOT', 'SEG_CLASSES',
          'SEG_PALETTE', 'SHAPE_CLASSES', 'SHAPE_PALETTE', 'draw_scene',
          'make_coco_instances', 'make_seg_dataset')),
        ('.prepare', ('prepare_synthetic_data', )),
        ('.paths', ('map_paths', 'rebase_paths', 'set_data_root')),
        ('.synthetic_pose', ('DEFAULT_POSE_ROOT', 'make_coco_keypoints')),
        ('.synthetic_video', ('DEFAULT_VIDEO_ROOT', 'VIDEO_CLASSES',
                              'make_video_dataset')),
    )
    for name in names
}
__all__ = list(_WHERE)


def __getattr__(name):
    if name in __all__:
        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return sorted(list(globals()) + __all__)
