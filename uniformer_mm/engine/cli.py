"""What tools/train.py and tools/test.py share: the common flags, loading the
config, and building the Runner (with gloo / CPU DDP when there is no GPU)."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..checkpoints.loader import install_weights_only_loader
from ..datasets.paths import set_data_root
from .distributed import init_cpu_process_group
from .workers import exit_forked_children_with_parent

CHECKPOINT_HOOK = 'WeightsOnlyCheckpointHook'


def add_common_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value (e.g. '
        'model.backbone.init_cfg.checkpoint=PATH)')
    parser.add_argument(
        '--data-root',
        help='where the data set is: replaces the config\'s top-level '
        'data_root in every dataset path and in the evaluators\' ann_file')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(args: argparse.Namespace) -> Config:
    """The config file with ``--cfg-options``, ``--data-root``, launcher and
    work dir set.

    Our tools load local checkpoints weights-only: this installs the loader
    (:func:`install_weights_only_loader`) before the config's imports.
    """
    install_weights_only_loader()
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file {args.config!r} not found')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if getattr(args, 'data_root', None):
        set_data_root(cfg, args.data_root)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def add_weights_only_checkpoint_hook(cfg: Config) -> None:
    """Add :class:`WeightsOnlyCheckpointHook` to ``cfg.custom_hooks`` (once),
    so the checkpoints a run writes resume under weights-only loading."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    if not any(h.get('type') == CHECKPOINT_HOOK for h in hooks):
        hooks.append(dict(type=CHECKPOINT_HOOK))
    cfg.custom_hooks = hooks


def add_reliability_hooks(cfg: Config) -> None:
    """What ``tools/train.py`` adds to every config: the weights-only hook,
    ``SafeCheckpointHook`` in place of MMEngine's ``CheckpointHook`` (same
    arguments), the preemption and non-finite-loss hooks (see
    :mod:`uniformer_mm.checkpoints.hooks`) and the class-count check
    (:class:`~uniformer_mm.engine.preflight.ClassCountCheckHook`). Hooks
    the config lists already are kept as configured."""
    add_weights_only_checkpoint_hook(cfg)
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint is not None and checkpoint.get('type') in (
            'CheckpointHook', 'mmengine.CheckpointHook'):
        checkpoint['type'] = 'SafeCheckpointHook'
    hooks = list(cfg.custom_hooks)
    for name in ('PreemptionHook', 'NonFiniteLossHook', 'ClassCountCheckHook'):
        if not any(h.get('type') == name for h in hooks):
            hooks.append(dict(type=name))
    cfg.custom_hooks = hooks


def build_runner(cfg: Config) -> Runner:
    """The Runner of ``cfg``; on a machine without CUDA, a distributed
    launcher gets a gloo group and :class:`CPUDistributedDataParallel`.
    Data-loader workers forked from here on die with this process."""
    exit_forked_children_with_parent()
    if init_cpu_process_group(cfg.launcher):
        cfg.model_wrapper_cfg = dict(
            type='CPUDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
