"""Embedded data for the demos: deterministic synthetic shape data sets,
generated on first use (see :mod:`.synthetic`).

Names are resolved lazily so that ``python -m uniformer_mm.datasets.synthetic``
runs the module cleanly.
"""
import importlib

__all__ = [
    'DEFAULT_COCO_ROOT', 'DEFAULT_SEG_ROOT', 'SEG_CLASSES', 'SEG_PALETTE',
    'SHAPE_CLASSES', 'SHAPE_PALETTE', 'draw_scene', 'make_coco_instances',
    'make_seg_dataset', 'prepare_synthetic_data', 'set_data_root',
    'set_iter_budget', 'DEFAULT_POSE_ROOT', 'make_coco_keypoints',
    'DEFAULT_VIDEO_ROOT', 'VIDEO_CLASSES', 'make_video_dataset'
]
_WHERE = dict(
    prepare_synthetic_data='.prepare',
    set_data_root='.prepare',
    set_iter_budget='.prepare',
    DEFAULT_POSE_ROOT='.synthetic_pose',
    make_coco_keypoints='.synthetic_pose',
    DEFAULT_VIDEO_ROOT='.synthetic_video',
    VIDEO_CLASSES='.synthetic_video',
    make_video_dataset='.synthetic_video')


def __getattr__(name):
    if name in __all__:
        return getattr(
            importlib.import_module(_WHERE.get(name, '.synthetic'), __name__),
            name)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return sorted(list(globals()) + __all__)
