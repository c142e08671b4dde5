"""Point a demo config at its synthetic data and generate that data.

The demo configs (``configs/*/demo/*.py``) carry a ``synthetic_data`` dict --
``kind`` (``'coco'``, ``'seg'``, ``'coco_keypoints'`` or ``'video'``) plus
the arguments of :func:`~.synthetic.make_coco_instances` /
:func:`~.synthetic.make_seg_dataset` /
:func:`~.synthetic_pose.make_coco_keypoints` /
:func:`~.synthetic_video.make_video_dataset` -- and a top-level
``data_root``. :func:`prepare_synthetic_data` moves every path of the config
that lives under ``data_root`` to the requested directory and generates the
data there (a no-op when it is already there), so it must run before the
Runner builds its dataloaders.
"""
from typing import Optional

from .paths import set_data_root
from .synthetic import make_coco_instances, make_seg_dataset
from .synthetic_pose import make_coco_keypoints
from .synthetic_video import make_video_dataset

_GENERATORS = {
    'coco': make_coco_instances,
    'seg': make_seg_dataset,
    'coco_keypoints': make_coco_keypoints,
    'video': make_video_dataset
}


def prepare_synthetic_data(cfg,
                           data_root: Optional[str] = None,
                           verbose: bool = True) -> str:
    """Generate the data a demo config expects (idempotent).

    Args:
        cfg: The config (mmengine ``Config``) with ``synthetic_data`` and
            ``data_root``; rewritten in place when ``data_root`` is given.
        data_root: Where the data goes; default: the config's ``data_root``
            (relative to the working directory).
        verbose: Print what was done.

    Returns:
        The data directory.
    """
    spec = cfg.get('synthetic_data')
    if spec is None:
        raise KeyError('the config has no synthetic_data entry: it is not a '
                       'demo config')
    spec = dict(spec)
    kind = spec.pop('kind')
    if kind not in _GENERATORS:
        raise ValueError(f'synthetic_data.kind must be one of '
                         f'{sorted(_GENERATORS)}, got {kind!r}')
    if data_root is not None:
        set_data_root(cfg, data_root)
    root = cfg.data_root.rstrip('/\\') or '.'
    _GENERATORS[kind](root, verbose=verbose, **spec)
    return root
