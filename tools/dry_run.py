"""Check a config and the environment before queueing a long job.

    python tools/dry_run.py CONFIG [--work-dir DIR] [--iters N]
        [--standin-dir DIR] [--small-inputs] [--own-data]
        [--data-root DIR]
        [--cfg-options k=v ...]

Runs the config's whole path on stand-in data in its own dataset layout:
``N`` training iterations (its pipelines, model, optimizer, hooks,
validation), a checkpoint, one resumed iteration from it, and a test of the
resumed checkpoint with its test pipeline and evaluator on 1-2 samples. Real
files are never touched: stand-in data and random stand-in weights (official
layout, names starting with ``RANDOM-STANDIN_``) go under ``--standin-dir``.
Every change a CPU-only machine forces is printed. ``--own-data`` runs on
the data set the config names instead: its files, its classes against the
annotations and its first samples through the pipelines. The last line is
``dry-run ok: <metric>=<value> ...`` (exit 0) or
``dry-run FAILED at <stage>: <reason>`` (exit 1).
"""
import argparse
import os.path as osp
import sys

from mmengine.config import DictAction

from uniformer_mm.engine.dry_run import dry_run


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train, checkpoint, resume and test a config on '
        'stand-in data')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--work-dir',
        help='logs and checkpoints (default: '
        'work_dirs/dry_run/<config name>)')
    parser.add_argument(
        '--iters',
        type=int,
        default=2,
        help='training iterations before the checkpoint (default 2)')
    parser.add_argument(
        '--standin-dir',
        help='stand-in data and weights, shared by dry runs (default: '
        'work_dirs/dry_run/standin)')
    parser.add_argument(
        '--small-inputs',
        action='store_true',
        help='smaller images, crops and clips and fewer test clips (the '
        'CI zoo tests); each change is printed')
    parser.add_argument(
        '--data-root',
        help='as tools/train.py --data-root: replaces the config\'s '
        'data_root in every dataset and evaluator path')
    parser.add_argument(
        '--own-data',
        action='store_true',
        help='run on the data set the config names (its files, classes and '
        'first samples) instead of stand-in data')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings first, key=value')
    args = parser.parse_args(argv)
    if args.iters < 1:
        parser.error(f'--iters must be >= 1, got {args.iters}')
    if not osp.isfile(args.config):
        parser.error(f'config file {args.config!r} not found')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = args.work_dir or osp.join('work_dirs', 'dry_run', name)
    standin = args.standin_dir or osp.join('work_dirs', 'dry_run', 'standin')
    result = dry_run(
        args.config,
        work_dir=work_dir,
        standin_dir=standin,
        iters=args.iters,
        small_inputs=args.small_inputs,
        cfg_options=args.cfg_options,
        own_data=args.own_data,
        data_root=args.data_root,
        report=lambda line: print(f'dry-run: {line}', flush=True))
    print(result.summary(), flush=True)
    return 0 if result.ok else 1


if __name__ == '__main__':
    sys.exit(main())
