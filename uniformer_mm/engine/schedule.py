"""Fit a config's learning-rate schedule to a shorter (or longer) run.

A zoo schedule is written for its own length: Mask R-CNN 1x warms up for 500
iterations and decays at epochs 8 and 11 of 12. Overriding only
``train_cfg.max_epochs`` keeps those numbers, so a fine-tune of a few epochs
on a small set can end still warming up. :func:`scale_schedule` is the one
place that moves every parameter scheduler with the run length; the dry run
(its 2-iteration runs), the demo tools (their iteration budgets) and
``tools/train.py --scale-schedule`` all call it.

The rule, with ``ratio = new length / old length`` in the loop's unit
(epochs for ``EpochBasedTrainLoop``, iterations for ``IterBasedTrainLoop``):

* ``begin``, ``end``, ``milestones``, ``T_max`` of every scheduler are
  multiplied by ``ratio``: rounded, ``end`` at least ``begin + 2`` (a
  linear warm-up reaches its end factor at ``end - 1``), nothing past the
  new run.
* Iteration-counted schedulers of an epoch-based loop (MMDetection's and
  MMPose's 500-iteration warm-up) are scaled by the same ratio. Their real
  length in iterations depends on the size of the new data set, known only
  when the Runner has built its train loop: :func:`fit_warmup_to_epoch`
  then ends any of them that would outlast the first epoch at the end of it.
"""
import math
from typing import List, Optional

from mmengine.logging import print_log

_COUNTS = ('begin', 'end', 'T_max')
_MIN_SPAN = 2


def _schedulers(schedulers) -> List[dict]:
    """The scheduler dicts of a ``param_scheduler`` value (a dict, a list,
    or per-optimizer lists)."""
    schedulers = schedulers or []
    if isinstance(schedulers, dict) and 'type' not in schedulers:
        # {optimizer name: [schedulers]} of multi-optimizer wrappers
        return [
            s for group in schedulers.values()
            for s in (group if isinstance(group, (list, tuple)) else [group])
        ]
    if isinstance(schedulers, dict):
        return [schedulers]
    return list(schedulers)


def _epoch_based(cfg) -> bool:
    train_cfg = cfg.train_cfg
    if 'max_iters' in train_cfg or 'Iter' in train_cfg.get('type', ''):
        return False
    return True


def train_length(cfg) -> int:
    """The run length in the loop's unit (epochs or iterations)."""
    train_cfg = cfg.train_cfg
    return int(
        train_cfg.max_epochs if _epoch_based(cfg) else train_cfg.max_iters)


def _scale_one(sched: dict, ratio: float, limit: Optional[int]) -> None:

    def scaled(value, low=0):
        value = max(low, int(round(value * ratio)))
        return value if limit is None else min(limit, value)

    for key in _COUNTS:
        if isinstance(sched.get(key),
                      (int, float)) and not (key == 'end' and sched[key]
                                             >= 1e9):  # INF stays INF
            sched[key] = scaled(sched[key], low=1 if key != 'begin' else 0)
    # MMEngine's linear schedulers reach their end factor at step end - 1:
    # a span of one step would stay at start_factor for the whole run
    begin, end = sched.get('begin', 0), sched.get('end')
    if end is not None and end < begin + _MIN_SPAN:
        sched['end'] = begin + _MIN_SPAN
    if sched.get('milestones'):
        sched['milestones'] = [scaled(m, low=1) for m in sched['milestones']]


def scale_schedule(cfg, length: int, old: Optional[int] = None) -> List[str]:
    """Set the run length of ``cfg`` (an mmengine ``Config``) to ``length``
    epochs or iterations (the loop's unit) and scale every param scheduler
    by ``length / old``; validation and checkpoint intervals longer than
    the new run are cut to it. ``old`` defaults to the config's current
    ``max_epochs`` / ``max_iters``.

    Returns:
        list[str]: One line per scheduler changed, ``old -> new``.
    """
    length = int(length)
    if length < 1:
        raise ValueError(f'the run length must be >= 1, got {length}')
    by_epoch = _epoch_based(cfg)
    unit = 'max_epochs' if by_epoch else 'max_iters'
    old = int(old or cfg.train_cfg.get(unit) or 0)
    if old < 1:
        raise ValueError(f'train_cfg.{unit} is not set: nothing to scale')
    ratio = length / old
    changes = []
    for sched in _schedulers(cfg.get('param_scheduler')):
        before = {
            k: sched.get(k)
            for k in _COUNTS + ('milestones', ) if k in sched
        }
        # an iteration-counted scheduler of an epoch loop has no limit here
        in_unit = sched.get('by_epoch', True) == by_epoch or not by_epoch
        _scale_one(sched, ratio, length if in_unit else None)
        after = {k: sched.get(k) for k in before}
        if after != before:
            changes.append(f'{sched.get("type")}: {before} -> {after}')
    cfg.train_cfg[unit] = length
    if cfg.train_cfg.get('val_interval', 0) > length:
        cfg.train_cfg.val_interval = length
    if cfg.train_cfg.get('val_begin', 0) > length:
        cfg.train_cfg.val_begin = length
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if checkpoint and (checkpoint.get('interval', 0) > length
                       or checkpoint.get('interval') == old):
        checkpoint.interval = length
    return changes


def set_iter_budget(cfg,
                    max_iters: int,
                    val_interval: Optional[int] = None) -> None:
    """Train ``max_iters`` iterations instead of the config's schedule
    (an ``IterBasedTrainLoop``), its param schedulers scaled with it by
    :func:`scale_schedule` (the demo and dry-run budgets)."""
    if cfg.train_cfg.get('type') != 'IterBasedTrainLoop':
        raise ValueError('set_iter_budget needs an IterBasedTrainLoop')
    scale_schedule(cfg, max_iters)
    if val_interval is not None:
        cfg.train_cfg.val_interval = int(val_interval)
    cfg.max_iters = int(max_iters)


def schedule_length(cfg) -> Optional[int]:
    """The run length the schedule was written for: the last finite
    ``end`` (else milestone) of the schedulers counted in the loop's unit,
    e.g. 12 for Mask R-CNN 1x whatever ``train_cfg.max_epochs`` says now.
    None when no scheduler tells."""
    by_epoch = _epoch_based(cfg)
    ends, marks = [], []
    for sched in _schedulers(cfg.get('param_scheduler')):
        if by_epoch and not sched.get('by_epoch', True):
            continue
        end = sched.get('end')
        if isinstance(end, (int, float)) and end < 1e9:
            ends.append(end)
        marks += list(sched.get('milestones') or [])
    last = max(ends or marks or [0])
    return int(math.ceil(last)) if last else None


def fit_schedule_to_run(cfg) -> List[str]:
    """Scale the schedulers of ``cfg`` from the length they were written
    for (:func:`schedule_length`) to ``train_cfg.max_epochs`` /
    ``max_iters``: what ``tools/train.py --scale-schedule`` does."""
    written_for, length = schedule_length(cfg), train_length(cfg)
    if written_for is None:
        raise ValueError(
            '--scale-schedule: no param scheduler of this config has an '
            '`end` or `milestones` in the loop\'s unit, so the length it was '
            'written for is unknown; set `end` on its schedulers')
    if written_for == length:
        return []
    return scale_schedule(cfg, length, old=written_for)


def fit_warmup_to_epoch(runner) -> List[str]:
    """End iteration-counted schedulers of an epoch-based run by the end of
    its first epoch (see the module doc); call after the Runner is built,
    before ``runner.train()``. Builds the train loop to learn the epoch
    length (``Runner.train`` reuses it).

    Returns:
        list[str]: One line per scheduler shortened.
    """
    from mmengine.runner import EpochBasedTrainLoop
    runner._train_loop = runner.build_train_loop(runner._train_loop)
    if not isinstance(runner._train_loop, EpochBasedTrainLoop):
        return []
    epoch_length = len(runner.train_dataloader)
    changes = []
    for sched in _schedulers(runner.param_schedulers):
        if sched.get('by_epoch', True) or sched.get('end', math.inf) <= \
                epoch_length:
            continue
        old = sched['end']
        sched['end'] = max(sched.get('begin', 0) + _MIN_SPAN, epoch_length)
        changes.append(f'{sched.get("type")} (by_epoch=False) end {old} -> '
                       f'{sched["end"]} iterations: ends with the first '
                       f'epoch ({epoch_length} iterations) of this data set')
    for line in changes:
        print_log(f'--scale-schedule: {line}', logger='current')
    return changes
