"""Test (evaluate) a checkpoint with any of the four codebases' configs.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]
        [--show] [--show-dir DIR] [--wait-time S] [--tta]
        [--cfg-options k=v ...] [--launcher pytorch]
        [--allow-partial-checkpoint]

The config's ``default_scope`` picks the codebase; ``--show-dir`` writes the
drawn predictions through that codebase's visualization hook.

The checkpoint must fit the model exactly (every tensor present, same
shapes): a checkpoint of another model or task is refused, listing the
differences, instead of being evaluated half-loaded.
``--allow-partial-checkpoint`` loads it non-strictly (MMEngine's
behaviour).
"""
import argparse
import os.path as osp

from mmengine.config import Config

from uniformer_mm.checkpoints.finetune import load_runner_checkpoint
from uniformer_mm.engine import check_dataset_paths, prepare_embedded_data
from uniformer_mm.engine.cli import (add_common_args, build_runner,
                                     load_config, parse)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the metrics')
    parser.add_argument('--out', help='dump predictions to a pickle file')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory (under the work dir) where painted images are saved')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation')
    parser.add_argument(
        '--allow-partial-checkpoint',
        action='store_true',
        help='load a checkpoint whose tensors do not all fit the model '
        '(missing, unexpected or other shapes) instead of refusing it')
    add_common_args(parser)
    return parse(parser, argv)


def enable_visualization(cfg: Config, args) -> None:
    """Switch on the codebase's visualization hook for --show/--show-dir."""
    hooks = cfg.default_hooks
    scope = cfg.get('default_scope', 'mmdet')
    if scope == 'mmdet':
        hook = hooks.visualization
        hook.draw = True
        hook.show = args.show
        hook.wait_time = args.wait_time
        hook.test_out_dir = args.show_dir
    elif scope == 'mmseg':
        hook = hooks.visualization
        hook.draw = True
        hook.show = args.show
        hook.wait_time = args.wait_time
        if args.show_dir:
            cfg.visualizer.save_dir = args.show_dir
            hook.interval = 1
    elif scope in ('mmpose', 'mmaction'):
        hook = hooks.visualization
        hook.enable = True
        hook.show = args.show
        hook.wait_time = args.wait_time
        hook.out_dir = args.show_dir
    else:
        raise ValueError(f'--show/--show-dir: unknown default_scope {scope!r}')


def build_config(args) -> Config:
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'checkpoint {args.checkpoint!r} not found: pass the file written '
            'by tools/train.py (work_dirs/...) or a converted official one')
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        enable_visualization(cfg, args)
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise RuntimeError('--tta needs tta_model and tta_pipeline in the '
                               'config')
        cfg.model = dict(**cfg.tta_model, module=cfg.model)
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    prepare_embedded_data(cfg, splits=('test', ))
    check_dataset_paths(cfg, splits=('test', ))
    runner = build_runner(cfg)
    if not args.allow_partial_checkpoint:
        load_runner_checkpoint(runner, args.checkpoint)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError('--out must be a .pkl file')
        from mmengine.evaluator import DumpResults
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
