"""Train a model of any of the four codebases from an OpenMMLab 2.0 config.

The config's ``default_scope`` (mmdet / mmseg / mmpose / mmaction) picks the
codebase; the flags are MMDetection's / MMSegmentation's.

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--resume [CKPT]]
        [--auto-scale-lr] [--cfg-options k=v ...] [--launcher pytorch]

Besides what upstream ``train.py`` does, this script adds
``WeightsOnlyCheckpointHook`` so the checkpoints it writes resume under
torch's weights-only loading, and runs distributed jobs on CPU-only machines
over gloo.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from uniformer_mm.engine import (check_checkpoint_paths, check_dataset_paths,
                                 init_cpu_process_group, prepare_embedded_data)

CHECKPOINT_HOOK = 'WeightsOnlyCheckpointHook'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision (GPU)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the LR by the actual over the base batch size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from CKPT, or without a value from the latest '
        'checkpoint in the work dir')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value (e.g. '
        'model.backbone.init_cfg.checkpoint=PATH)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_config(args) -> Config:
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file {args.config!r} not found')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'AmpOptimWrapper':
            print('AMP is already enabled in the config')
        else:
            assert optim_wrapper == 'OptimWrapper', (
                '--amp is only supported when the optimizer wrapper type is '
                f'OptimWrapper, got {optim_wrapper}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if not ('auto_scale_lr' in cfg and 'base_batch_size'
                in cfg.auto_scale_lr):
            raise RuntimeError('--auto-scale-lr needs auto_scale_lr = '
                               'dict(base_batch_size=N) in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    hooks = list(cfg.get('custom_hooks', None) or [])
    if not any(h.get('type') == CHECKPOINT_HOOK for h in hooks):
        hooks.append(dict(type=CHECKPOINT_HOOK))
    cfg.custom_hooks = hooks
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    prepare_embedded_data(cfg, splits=('train', 'val'))
    check_dataset_paths(cfg, splits=('train', 'val'))
    check_checkpoint_paths(cfg)
    if init_cpu_process_group(args.launcher):
        cfg.model_wrapper_cfg = dict(
            type='CPUDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    runner = (Runner.from_cfg(cfg)
              if 'runner_type' not in cfg else RUNNERS.build(cfg))
    runner.train()


if __name__ == '__main__':
    main()
