"""Test (evaluate) a checkpoint with any of the four codebases' configs.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]
        [--show] [--show-dir DIR] [--wait-time S] [--tta]
        [--cfg-options k=v ...] [--launcher pytorch]

The config's ``default_scope`` picks the codebase; ``--show-dir`` writes the
drawn predictions through that codebase's visualization hook.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from uniformer_mm.engine import (check_dataset_paths, init_cpu_process_group,
                                 prepare_embedded_data)


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
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value')
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
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'config file {args.config!r} not found')
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'checkpoint {args.checkpoint!r} not found: pass the file written '
            'by tools/train.py (work_dirs/...) or a converted official one')
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
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
    if init_cpu_process_group(args.launcher):
        cfg.model_wrapper_cfg = dict(
            type='CPUDistributedDataParallel', broadcast_buffers=False)
    runner = (Runner.from_cfg(cfg)
              if 'runner_type' not in cfg else RUNNERS.build(cfg))
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError('--out must be a .pkl file')
        from mmengine.evaluator import DumpResults
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
