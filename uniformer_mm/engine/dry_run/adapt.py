"""What a CPU-only machine forces on a config in a dry run: batch size and
data-loader workers, fp32 instead of AMP without CUDA, BN instead of SyncBN
without a process group, and a schedule of a few iterations; each change
is reported."""
import torch
from mmengine.config import Config

from .base import LOADER_KEYS, Changes, set_dataset_indices, walk


def adapt_loaders(cfg: Config, train_batch: int, change: Changes) -> None:
    for key in LOADER_KEYS:
        loader = cfg.get(key)
        if not loader:
            continue
        batch = train_batch if key == 'train_dataloader' else 1
        if loader.get('batch_size', 1) > batch:
            change(f'{key}.batch_size {loader.batch_size} -> {batch}')
            loader.batch_size = batch
        if loader.get('num_workers', 0) or loader.get('persistent_workers'):
            change(f'{key}.num_workers {loader.get("num_workers", 0)} -> 0, '
                   'persistent_workers off (2-core CPU, few samples)')
            loader.num_workers = 0
            loader.persistent_workers = False


def adapt_precision_and_norms(cfg: Config, change: Changes) -> None:
    wrapper = cfg.get('optim_wrapper') or {}
    if wrapper.get('type') == 'AmpOptimWrapper' and \
            not torch.cuda.is_available():
        wrapper.type = 'OptimWrapper'
        for key in ('loss_scale', 'dtype', 'use_fsdp'):
            wrapper.pop(key, None)
        change('optim_wrapper AmpOptimWrapper -> OptimWrapper (fp32: AMP '
               'needs CUDA, this machine has none)')
    if not (torch.distributed.is_available()
            and torch.distributed.is_initialized()):
        synced = []
        for where, node in walk(cfg.get('model'), 'model'):
            if node.get('type') in ('SyncBN', 'MMSyncBN'):
                node['type'] = 'BN'
                synced.append(where)
        if synced:
            change(f'SyncBN -> BN (no process group) in {", ".join(synced)}')


def adapt_schedule(cfg: Config, iters: int, train_batch: int,
                   eval_samples: int, change: Changes) -> None:
    """Train ``iters`` iterations and validate once at the end."""
    train_cfg = cfg.train_cfg
    loop = train_cfg.get('type', 'EpochBasedTrainLoop')
    hooks = cfg.default_hooks
    if 'Iter' in loop or 'max_iters' in train_cfg:
        from ..schedule import set_iter_budget
        old = train_cfg.max_iters
        set_iter_budget(cfg, iters, val_interval=iters)
        hooks.checkpoint.interval = iters
        change(f'train_cfg.max_iters {old} -> {iters} (schedulers scaled), '
               f'validation and checkpoint after iteration {iters}')
    else:
        from ..schedule import scale_schedule
        old = train_cfg.max_epochs
        scale_schedule(cfg, 1)
        train_cfg.val_begin = 1
        train_cfg.val_interval = 1
        hooks.checkpoint.interval = 1
        set_dataset_indices(cfg, 'train_dataloader', train_batch * iters)
        change(f'train_cfg.max_epochs {old} -> 1 of {iters} iterations '
               '(schedulers scaled) '
               f'({train_batch * iters} samples), validation and checkpoint '
               'after it')
    if cfg.get('val_dataloader'):
        set_dataset_indices(cfg, 'val_dataloader', eval_samples)
    set_dataset_indices(cfg, 'test_dataloader', eval_samples)
    # random weights score every box below a detector's test threshold, and
    # COCO evaluation of no detections reports nothing at all
    for where, node in walk(cfg.model.get('test_cfg'), 'model.test_cfg'):
        if node.get('score_thr'):
            change(f'{where}.score_thr {node["score_thr"]} -> 0 (random '
                   'weights score below it; the evaluator would get no '
                   'detections)')
            node['score_thr'] = 0.
    logger = hooks.get('logger')
    if logger is not None and logger.get('interval', 1) > 1:
        logger.interval = 1
        change('default_hooks.logger.interval -> 1 (log every iteration)')
    change(f'validation and test on {eval_samples} sample(s)')
