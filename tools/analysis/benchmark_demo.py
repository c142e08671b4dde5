"""Fixed-budget benchmark of the demo configs: train from random init on the
synthetic data, evaluate with the real evaluators along the way, report the
learning curve and the wall time.

    python tools/analysis/benchmark_demo.py
        [--tasks detection segmentation pose video]
        [--work-dir work_dirs/benchmark_demo] [--data-dir data]
        [--max-iters N] [--val-interval N] [--threads N] [--json OUT]

Each task trains its demo config's own schedule (``max_iters`` /
``val_interval`` in the config, unless overridden) in this process with
MMEngine's Runner and validates every ``val_interval`` iterations on the
synthetic val split: COCO bbox/segm mAP (pycocotools) for detection, mIoU
for segmentation, top-1 accuracy (MMAction2's AccMetric) for video. The
wall time reported covers everything -- data generation (when missing),
training and every evaluation.

Targets on the synthetic val split (a 2-core CPU, <= 15 min per task):
detection bbox mAP >= 0.30, segmentation mIoU >= 0.50, video top-1 >= 0.80.
"""
import argparse
import json
import os
import os.path as osp
import platform
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _run_demo_tool():
    """tools/demo/run_demo.py, loaded by path: its demo configs and thread
    set-up. Not through the package: importing ``uniformer_mm`` imports
    torch, and ``configure_threads`` must run before that."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'run_demo', osp.join(ROOT, 'tools', 'demo', 'run_demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_run_demo = _run_demo_tool()
CONFIGS, configure_threads = _run_demo.CONFIGS, _run_demo.configure_threads

TARGETS = {
    'detection': ('coco/bbox_mAP', 0.30),
    'segmentation': ('mIoU', 0.50),
    'pose': ('coco/AP', 0.50),
    'video': ('acc/top1', 0.80),
}
REPORTED = {
    'detection': ('coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/segm_mAP'),
    'segmentation': ('mIoU', 'mAcc', 'aAcc'),
    'pose': ('coco/AP', 'coco/AP .5', 'coco/AP .75', 'coco/AR'),
    'video': ('acc/top1', 'acc/mean1'),
}
# mmseg's IoUMetric reports percentages, CocoMetric fractions: everything
# here is compared and printed as a fraction
SCALE = {'detection': 1.0, 'segmentation': 0.01, 'pose': 1.0, 'video': 1.0}
BUDGET_S = 15 * 60


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train the demo configs from random init for a fixed '
        'budget; report metric, learning curve, wall time.')
    parser.add_argument(
        '--tasks',
        nargs='+',
        choices=sorted(CONFIGS),
        default=['detection', 'segmentation', 'pose', 'video'],
        help='default: every demo task')
    parser.add_argument('--work-dir', default='work_dirs/benchmark_demo')
    parser.add_argument(
        '--data-dir',
        default=None,
        help='parent of synthetic_coco/ and synthetic_seg/ '
        '(default: the configs\' data_root, under data/)')
    parser.add_argument(
        '--max-iters',
        type=int,
        default=None,
        help='override the configs\' budget (the lr '
        'schedule is scaled to it)')
    parser.add_argument('--val-interval', type=int, default=None)
    parser.add_argument(
        '--threads',
        type=int,
        default=0,
        help='torch CPU threads (default 0: one per core, '
        'at most 8). '
        'OpenMP threads then wait passively '
        '(OMP_WAIT_POLICY=PASSIVE unless set), which keeps a '
        'shared CPU from slowing the small ops down by an '
        'order of magnitude')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='override entries of every benchmarked config')
    parser.add_argument(
        '--json',
        default=None,
        help='also write the results here (default: '
        'WORK_DIR/benchmark.json)')
    return parser.parse_args(argv)


def _numbers(metrics) -> dict:
    """The scalar entries of an evaluator's result (numpy scalars too)."""
    out = {}
    for k, v in (metrics or {}).items():
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            pass
    return out


def _curve_hook():
    from mmengine.hooks import Hook

    class LearningCurveHook(Hook):
        """Records (iteration, seconds, metrics, train loss) at every
        validation; seconds of training and of evaluation separately."""
        priority = 'LOWEST'

        def __init__(self):
            self.points = []
            self.t0 = None
            self.val_seconds = 0.0
            self._val_start = None

        def before_train(self, runner):
            self.t0 = time.time()

        def before_val_epoch(self, runner):
            self._val_start = time.time()

        def after_val_epoch(self, runner, metrics=None):
            now = time.time()
            self.val_seconds += now - self._val_start
            loss = None
            hub = runner.message_hub
            if 'train/loss' in hub.log_scalars:
                loss = float(hub.get_scalar('train/loss').mean(50))
            self.points.append(
                dict(
                    iter=int(runner.iter),
                    seconds=round(now - self.t0, 1),
                    train_seconds=round(now - self.t0 - self.val_seconds, 1),
                    train_loss=None if loss is None else round(loss, 4),
                    metrics=_numbers(metrics)))

    return LearningCurveHook()


def benchmark_task(task, args) -> dict:
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner

    import uniformer_mm  # noqa: F401  (registers the backbones)
    from uniformer_mm.checkpoints import (install_weights_only_loader,
                                          save_weights)
    from uniformer_mm.datasets import prepare_synthetic_data
    from uniformer_mm.engine.schedule import set_iter_budget
    install_weights_only_loader()

    cfg = Config.fromfile(CONFIGS[task])
    if args.cfg_options:
        from mmengine.config import DictAction
        ns = argparse.Namespace()
        DictAction(option_strings=[], dest='opts')(None, ns, args.cfg_options)
        cfg.merge_from_dict(ns.opts)
    cfg.work_dir = osp.join(args.work_dir, task)
    data_root = None
    if args.data_dir:
        data_root = osp.join(args.data_dir,
                             osp.basename(cfg.data_root.rstrip('/\\')))
    t0 = time.time()
    data_root = prepare_synthetic_data(cfg, data_root)
    t_data = time.time() - t0
    if args.max_iters:
        set_iter_budget(cfg, args.max_iters, args.val_interval)
    elif args.val_interval:
        cfg.train_cfg.val_interval = args.val_interval
    cfg.default_hooks.checkpoint = None  # the weights are saved below
    runner = Runner.from_cfg(cfg)
    hook = _curve_hook()
    runner.register_hook(hook)
    t1 = time.time()
    runner.train()
    wall = time.time() - t0
    weights = save_weights(
        runner.model,
        osp.join(cfg.work_dir, 'model_weights.pth'),
        dataset_meta=runner.train_dataloader.dataset.metainfo,
        config=cfg.pretty_text,
        iters=int(cfg.train_cfg.max_iters),
        task=task)
    key, target = TARGETS[task]
    for point in hook.points:
        point['metrics'] = {
            k: round(v * SCALE[task], 4)
            for k, v in point['metrics'].items()
        }
    final = hook.points[-1]['metrics'] if hook.points else {}
    return dict(
        task=task,
        config=osp.relpath(CONFIGS[task], ROOT),
        data_root=data_root,
        max_iters=int(cfg.train_cfg.max_iters),
        val_interval=int(cfg.train_cfg.val_interval),
        batch_size=int(cfg.train_dataloader.batch_size),
        threads=torch.get_num_threads(),
        seconds=dict(
            data=round(t_data, 1),
            train=round(time.time() - t1 - hook.val_seconds, 1),
            evaluation=round(hook.val_seconds, 1),
            wall=round(wall, 1)),
        seconds_per_iter=round((time.time() - t1 - hook.val_seconds) /
                               max(int(cfg.train_cfg.max_iters), 1), 3),
        metric=key,
        target=target,
        final={k: final[k]
               for k in REPORTED[task] if k in final},
        reached=bool(final.get(key, -1) >= target),
        within_budget=bool(wall <= BUDGET_S),
        curve=hook.points,  # metrics as fractions
        weights=weights,
        log_dir=runner.log_dir)


def _print_report(results):
    bar = '=' * 78
    print(bar)
    print('Demo benchmark (random init, synthetic val split), '
          f'{platform.machine()} CPU x{os.cpu_count()}, '
          f'{results[0]["threads"]} torch thread(s)')
    for r in results:
        sec = r['seconds']
        print(f'\n{r["task"]}: {r["config"]}')
        print(f'  {r["max_iters"]} iters x batch {r["batch_size"]}: '
              f'train {sec["train"]:.0f} s ({r["seconds_per_iter"]:.2f} '
              f's/iter), evaluation {sec["evaluation"]:.0f} s, data '
              f'{sec["data"]:.0f} s, wall {sec["wall"]:.0f} s '
              f'({sec["wall"] / 60:.1f} min)')
        keys = REPORTED[r['task']]
        print('  ' + f'{"iter":>6} {"wall s":>7} {"loss":>7} ' +
              ' '.join(f'{k.split("/")[-1]:>10}' for k in keys))
        for p in r['curve']:
            loss = '-' if p['train_loss'] is None else f'{p["train_loss"]:.3f}'
            print('  ' + f'{p["iter"]:>6} {p["seconds"]:>7.0f} {loss:>7} ' +
                  ' '.join(f'{p["metrics"].get(k, float("nan")):>10.4f}'
                           for k in keys))
        verdict = 'REACHED' if r['reached'] else 'NOT reached'
        budget = 'within' if r['within_budget'] else 'OVER'
        print(f'  target {r["metric"]} >= {r["target"]}: {verdict} '
              f'({r["final"].get(r["metric"], float("nan")):.4f}); '
              f'{budget} the 15 min budget')
    print(bar)


def main(argv=None):
    args = parse_args(argv)
    configure_threads(args.threads)
    results = [benchmark_task(task, args) for task in args.tasks]
    out = args.json or osp.join(args.work_dir, 'benchmark.json')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(dict(argv=sys.argv[1:], results=results), f, indent=1)
    _print_report(results)
    print(f'results: {out}')
    return results


if __name__ == '__main__':
    main()
