"""Train a model of any of the four codebases from an OpenMMLab 2.0 config.

The config's ``default_scope`` (mmdet / mmseg / mmpose / mmaction) picks the
codebase; the flags are MMDetection's / MMSegmentation's.

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--resume [CKPT]]
        [--auto-scale-lr] [--cfg-options k=v ...] [--launcher pytorch]

Besides what upstream ``train.py`` does, this script adds
``WeightsOnlyCheckpointHook`` so the checkpoints it writes resume under
torch's weights-only loading, makes checkpoints atomic and resume find the
last good one (``SafeCheckpointHook``), saves and exits with status 75 on
SIGTERM / SIGUSR1 (``PreemptionHook``), stops at the first non-finite loss
(``NonFiniteLossHook``; docs/en/cluster_training.md), and runs distributed
jobs on CPU-only machines over gloo.
"""
import argparse

from mmengine.config import Config
from mmengine.logging import print_log

from uniformer_mm.engine import (check_checkpoint_paths, check_dataset_paths,
                                 prepare_embedded_data)
from uniformer_mm.engine.cli import (add_common_args, add_reliability_hooks,
                                     build_runner, load_config, parse)


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
    add_common_args(parser)
    return parse(parser, argv)


def build_config(args) -> Config:
    cfg = load_config(args)
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'AmpOptimWrapper':
            print_log('AMP is already enabled in the config', 'current')
        else:
            assert optim_wrapper == 'OptimWrapper', (
                '--amp is only supported when the optimizer wrapper type is '
                f'OptimWrapper, got {optim_wrapper}')
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if not ('auto_scale_lr' in cfg
                and 'base_batch_size' in cfg.auto_scale_lr):
            raise RuntimeError('--auto-scale-lr needs auto_scale_lr = '
                               'dict(base_batch_size=N) in the config')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        # a work dir without checkpoints (the first run of a requeued job)
        # still starts from the config's load_from (SafeCheckpointHook)
        cfg.load_from_if_no_checkpoint = cfg.get('load_from')
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    add_reliability_hooks(cfg)
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    prepare_embedded_data(cfg, splits=('train', 'val'))
    check_dataset_paths(cfg, splits=('train', 'val'))
    check_checkpoint_paths(cfg)
    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
