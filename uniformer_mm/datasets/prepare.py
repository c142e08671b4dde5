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
import os.path as osp
from typing import Any, Optional

from .synthetic import make_coco_instances, make_seg_dataset
from .synthetic_pose import make_coco_keypoints
from .synthetic_video import make_video_dataset

_GENERATORS = {
    'coco': make_coco_instances,
    'seg': make_seg_dataset,
    'coco_keypoints': make_coco_keypoints,
    'video': make_video_dataset
}


def _rebase(node: Any, old: str, new: str) -> Any:
    """Replace the prefix ``old`` of every string under a ``data_root`` or
    ``ann_file`` key (datasets, wrapped datasets, evaluators)."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if (key in ('data_root', 'ann_file') and isinstance(value, str)
                    and value.startswith(old)):
                node[key] = new + value[len(old):]
            else:
                _rebase(value, old, new)
    elif isinstance(node, (list, tuple)):
        for item in node:
            _rebase(item, old, new)
    return node


def set_data_root(cfg, data_root: str) -> None:
    """Rewrite ``cfg`` (an mmengine ``Config``) in place so that its data
    lives under ``data_root`` instead of ``cfg.data_root``."""
    old = cfg.get('data_root')
    if not old:
        raise KeyError('the config has no top-level data_root')
    new = osp.join(data_root, '')  # with a trailing separator, like old
    if not old.endswith(('/', '\\')):
        new = new.rstrip('/\\')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'val_evaluator', 'test_evaluator'):
        if cfg.get(key) is not None:
            _rebase(cfg[key], old, new)
    cfg.data_root = new


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


def set_iter_budget(cfg,
                    max_iters: int,
                    val_interval: Optional[int] = None) -> None:
    """Train ``max_iters`` iterations instead of the config's schedule.

    The param schedulers' ``begin``/``end`` are scaled by the same factor (a
    shorter warm-up and decay over the new budget), and a checkpoint
    interval equal to the old ``max_iters`` follows it.
    """
    max_iters = int(max_iters)
    if max_iters < 1:
        raise ValueError(f'max_iters must be >= 1, got {max_iters}')
    train_cfg = cfg.train_cfg
    old = int(train_cfg.get('max_iters', 0))
    if train_cfg.get('type') != 'IterBasedTrainLoop' or old < 1:
        raise ValueError('set_iter_budget needs an IterBasedTrainLoop')
    scale = max_iters / old
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for sched in schedulers:
        for key in ('begin', 'end'):
            if key in sched:
                sched[key] = min(max_iters, max(0, round(sched[key] * scale)))
        if sched.get('end') is not None and sched.get('begin') is not None \
                and sched['end'] <= sched['begin']:
            sched['end'] = sched['begin'] + 1
        if 'T_max' in sched:
            sched['T_max'] = max(1, round(sched['T_max'] * scale))
    train_cfg.max_iters = max_iters
    if val_interval is not None:
        train_cfg.val_interval = int(val_interval)
    elif train_cfg.get('val_interval', 0) > max_iters:
        train_cfg.val_interval = max_iters
    ckpt = cfg.get('default_hooks', {}).get('checkpoint')
    if ckpt and ckpt.get('interval') == old:
        ckpt.interval = max_iters
    cfg.max_iters = max_iters
