"""Train a model of any of the four codebases from an OpenMMLab 2.0 config.

The config's ``default_scope`` (mmdet / mmseg / mmpose / mmaction) picks the
codebase; the flags are MMDetection's / MMSegmentation's.

    python tools/train.py CONFIG [--work-dir DIR] [--amp] [--resume [CKPT]]
        [--auto-scale-lr] [--scale-schedule] [--data-root DIR]
        [--cfg-options k=v ...] [--launcher pytorch]

Besides what upstream ``train.py`` does, this script adds
``WeightsOnlyCheckpointHook`` so the checkpoints it writes resume under
torch's weights-only loading, makes checkpoints atomic and resume find the
last good one (``SafeCheckpointHook``), saves and exits with status 75 on
SIGTERM / SIGUSR1 (``PreemptionHook``), stops at the first non-finite loss
(``NonFiniteLossHook``; docs/en/cluster_training.md), and runs distributed
jobs on CPU-only machines over gloo.
"""
import argparse
import logging

from mmengine.config import Config
from mmengine.logging import print_log

from uniformer_mm.engine import (check_checkpoint_paths, check_dataset_paths,
                                 prepare_embedded_data)
from uniformer_mm.engine.cli import (add_common_args, add_reliability_hooks,
                                     build_runner, load_config, parse)
from uniformer_mm.engine.schedule import (fit_schedule_to_run,
                                          fit_warmup_to_epoch, schedule_length,
                                          train_length)


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
        '--scale-schedule',
        action='store_true',
        help='scale warm-up, milestones and cosine / poly ends from the '
        'length the schedule was written for to train_cfg.max_epochs / '
        'max_iters (same as scale_schedule = True in the config)')
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
    if args.scale_schedule:
        cfg.scale_schedule = True
    fit_schedule(cfg)
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


def fit_schedule(cfg: Config) -> None:
    """Scale the schedulers to the run length when ``cfg.scale_schedule``;
    otherwise warn when the schedule was written for another length."""
    train_cfg = cfg.get('train_cfg') or {}
    if not ('max_epochs' in train_cfg or 'max_iters' in train_cfg):
        return
    written_for, length = schedule_length(cfg), train_length(cfg)
    if cfg.get('scale_schedule'):
        for line in fit_schedule_to_run(cfg):
            print_log(f'--scale-schedule: {line}', 'current')
    elif written_for is not None and written_for != length:
        print_log(
            f'the param schedulers are written for {written_for} '
            f'{"epochs" if "max_epochs" in cfg.train_cfg else "iterations"}'
            f' and this run has {length}: warm-up, milestones and decay '
            'keep their positions. Pass --scale-schedule to scale them '
            'with the run.',
            'current',
            level=logging.WARNING)


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    prepare_embedded_data(cfg, splits=('train', 'val'))
    check_dataset_paths(cfg, splits=('train', 'val'))
    check_checkpoint_paths(cfg)
    runner = build_runner(cfg)
    if cfg.get('scale_schedule'):
        fit_warmup_to_epoch(runner)
    runner.train()


if __name__ == '__main__':
    main()
