"""The one-command demo (``make demo``): synthetic data -> train -> evaluate
-> draw predictions, all in one process with MMEngine's Runner.

    python tools/demo/run_demo.py [--task detection|segmentation]
        [--work-dir DIR] [--data-root DIR] [--max-iters N | --full]
        [--threads N] [--num-vis K] [--cfg-options KEY=VALUE ...]

1. generates the synthetic data set the demo config asks for (once; into
   ``data/synthetic_coco`` or ``data/synthetic_seg`` unless ``--data-root``),
2. trains the demo config from random init (``--max-iters``, default 300;
   ``--full`` = the config's own benchmark schedule),
3. evaluates the trained model, still in memory, on the val split with the
   config's evaluator (COCO bbox/segm mAP via pycocotools, or mIoU),
4. saves the weights as a weights-only file ``model_weights.pth``, and
5. draws its predictions on a few val images (``vis/``, ground truth on the
   left, prediction on the right) with MMDetection's ``DetInferencer`` /
   MMSegmentation's ``MMSegInferencer`` built from that file, and writes the
   raw predictions to ``preds/``.

``--task video`` does the same with synthetic ``.mp4`` clips
(``data/synthetic_video``): top-1 accuracy with MMAction2's ``AccMetric``,
and the first val videos drawn with their predicted and true class by
``tools/demo/video_demo.py`` (``vis/*.mp4`` and ``vis/*.jpg`` strips).

Everything goes to the work dir (default ``work_dirs/demo/<task>``), and a
summary to ``demo_summary.json`` there.
"""
import argparse
import json
import numbers
import os
import os.path as osp
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = {
    'detection':
    osp.join(ROOT, 'configs', 'detection', 'demo',
             'mask-rcnn_uniformer-tiny_fpn_synthetic.py'),
    'segmentation':
    osp.join(ROOT, 'configs', 'segmentation', 'demo',
             'fpn_uniformer-tiny_synthetic.py'),
    'pose':
    osp.join(ROOT, 'configs', 'pose', 'demo',
             'td-hm_uniformer-tiny_synthetic.py'),
    'video':
    osp.join(ROOT, 'configs', 'video', 'demo',
             'uniformer3d-tiny_synthetic-video.py'),
}
HEADLINE = {
    'detection': ('coco/bbox_mAP', 'coco/segm_mAP'),
    'segmentation': ('mIoU', 'mAcc', 'aAcc'),
    'pose': ('coco/AP', 'coco/AP .5', 'coco/AR'),
    'video': ('acc/top1', 'acc/mean1'),
}
DEFAULT_DEMO_ITERS = 300


def configure_threads(threads: int) -> int:
    """Set torch's CPU threads (0: one per core, at most 8).

    Call before torch is imported: OpenMP reads OMP_WAIT_POLICY when it
    loads, and passive waiting keeps the many small ops of these tiny models
    from spinning against other processes. One Mask R-CNN step at batch 8 on
    a 2-core x86 VM: 1 thread 0.50 s, 2 active threads 0.29 s, 2 passive
    0.35 s.
    """
    os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
    import torch
    threads = threads if threads > 0 else min(os.cpu_count() or 1, 8)
    torch.set_num_threads(threads)
    return threads


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train and evaluate a tiny UniFormer on synthetic '
        'shapes, then draw its predictions.')
    parser.add_argument('--task', choices=sorted(CONFIGS), default='detection')
    parser.add_argument(
        '--config',
        default=None,
        help='demo config (default: the one of --task)')
    parser.add_argument(
        '--work-dir', default=None, help='default: work_dirs/demo/<task>')
    parser.add_argument(
        '--data-root',
        default=None,
        help='where the synthetic data is generated / read '
        '(default: the config\'s data_root, under data/)')
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument(
        '--max-iters',
        type=int,
        default=None,
        help=f'training iterations (default '
        f'{DEFAULT_DEMO_ITERS}); the lr schedule is scaled '
        'to it')
    budget.add_argument(
        '--full',
        action='store_true',
        help='train the config\'s full schedule (the '
        'benchmark budget)')
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
        '--num-vis',
        type=int,
        default=4,
        help='val images to draw predictions on')
    parser.add_argument('--score-thr', type=float, default=0.3)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='override config entries, e.g. '
        'train_dataloader.batch_size=4')
    return parser.parse_args(argv)


def _parse_options(options):
    from mmengine.config import DictAction
    ns = argparse.Namespace()
    DictAction(option_strings=[], dest='opts')(None, ns, options)
    return ns.opts


def _headline(task, metrics):
    """The main metrics as fractions (mmseg's IoUMetric reports %)."""
    scale = 0.01 if task == 'segmentation' else 1.0
    return {
        k: round(metrics[k] * scale, 4)
        for k in HEADLINE[task] if k in metrics
    }


def _draw_images(task, cfg, weights, args) -> dict:
    """Draw predictions on the first val images with the task's inferencer
    (uniformer_mm.apis.image_inference)."""
    from uniformer_mm.apis.image_inference import run_inference
    vis_dir = cfg.work_dir
    test_ds = cfg.test_dataloader.dataset
    img_dir = osp.join(
        test_ds.data_root,
        test_ds.data_prefix.get('img') or test_ds.data_prefix.get('img_path'))
    if task in ('detection', 'pose'):
        # a COCO json; for pose its boxes are also where the pose is read
        ground_truth = cfg.test_evaluator.ann_file
    else:
        ground_truth = osp.join(test_ds.data_root,
                                test_ds.data_prefix.seg_map_path)
    images = sorted(f for f in os.listdir(img_dir)
                    if f.endswith('.jpg'))[:max(args.num_vis, 0)]
    vis = dict(vis_files=[])
    if images:
        # ground truth on the left, prediction on the right
        vis = run_inference([osp.join(img_dir, f) for f in images],
                            cfg,
                            weights,
                            out_dir=vis_dir,
                            score_thr=args.score_thr,
                            ground_truth=ground_truth)
    return vis


def _draw_videos(cfg, weights, num_vis) -> dict:
    """Recognise the first val videos and draw them with the prediction and
    the ground truth (uniformer_mm.apis.video_inference)."""
    from uniformer_mm.apis.video_inference import run_video_inference
    test_ds = cfg.test_dataloader.dataset
    ann_file = osp.join(test_ds.data_root, test_ds.ann_file)
    with open(ann_file) as f:
        lines = [line.split()[0] for line in f if line.strip()]
    videos = [osp.join(test_ds.data_root, p) for p in lines[:max(num_vis, 0)]]
    if not videos:
        return dict(vis_files=[])
    return run_video_inference(
        videos, cfg, weights, out_dir=cfg.work_dir, ground_truth=ann_file)


def run_demo(args) -> dict:
    args.threads = configure_threads(args.threads)
    from mmengine.config import Config
    from mmengine.runner import Runner

    import uniformer_mm  # noqa: F401  (registers the backbones)
    from uniformer_mm.checkpoints import (install_weights_only_loader,
                                          save_weights)
    from uniformer_mm.datasets import prepare_synthetic_data
    from uniformer_mm.engine.schedule import set_iter_budget
    install_weights_only_loader()

    task = args.task
    config = args.config or CONFIGS[task]
    cfg = Config.fromfile(config)
    if args.cfg_options:
        cfg.merge_from_dict(_parse_options(args.cfg_options))
    cfg.work_dir = args.work_dir or osp.join('work_dirs', 'demo', task)
    os.makedirs(cfg.work_dir, exist_ok=True)

    t0 = time.time()
    data_root = prepare_synthetic_data(cfg, args.data_root)
    t_data = time.time() - t0
    if not args.full:
        set_iter_budget(cfg, args.max_iters or DEFAULT_DEMO_ITERS)
    max_iters = cfg.train_cfg.max_iters
    # evaluate once, after training, with the test loop (the val split):
    # no validation during training
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.train_cfg.pop('val_interval', None)

    runner = Runner.from_cfg(cfg)
    t1 = time.time()
    runner.train()
    t_train = time.time() - t1
    # the in-memory model of this runner: no checkpoint is read back
    t2 = time.time()
    metrics = runner.test()
    t_test = time.time() - t2
    metrics = {
        k: float(v)
        for k, v in metrics.items() if isinstance(v, numbers.Real)
    }  # numpy scalars too

    weights = osp.join(cfg.work_dir, 'model_weights.pth')
    save_weights(
        runner.model,
        weights,
        dataset_meta=runner.test_dataloader.dataset.metainfo,
        config=cfg.pretty_text,
        iters=int(max_iters),
        task=task)

    if task == 'video':
        vis = _draw_videos(cfg, weights, args.num_vis)
    else:
        vis = _draw_images(task, cfg, weights, args)

    summary = dict(
        task=task,
        config=osp.relpath(config),
        work_dir=cfg.work_dir,
        data_root=data_root,
        max_iters=int(max_iters),
        threads=args.threads,
        batch_size=cfg.train_dataloader.batch_size,
        seconds=dict(
            data=round(t_data, 1),
            train=round(t_train, 1),
            test=round(t_test, 1),
            total=round(time.time() - t0, 1)),
        metrics=metrics,
        headline=_headline(task, metrics),
        weights=weights,
        vis=vis['vis_files'],
        log_dir=runner.log_dir)
    with open(osp.join(cfg.work_dir, 'demo_summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    return summary


def main(argv=None):
    args = parse_args(argv)
    s = run_demo(args)
    bar = '=' * 72
    print(bar)
    print(f'UniFormer demo ({s["task"]}): {s["max_iters"]} iterations from '
          f'random init, batch {s["batch_size"]}, {s["threads"]} thread(s)')
    print(f'  data:      {s["data_root"]}')
    sec = s['seconds']
    print(f'  time:      train {sec["train"]:.0f} s, evaluation '
          f'{sec["test"]:.0f} s, total {sec["total"]:.0f} s')
    for k, v in s['headline'].items():
        print(f'  {k:<14} {v:.4f}')
    video = s['task'] == 'video'
    print(f'  weights:   {s["weights"]}  (weights-only; tools/demo/'
          f'{"video" if video else "image"}_demo.py --weights)')
    print(f'  drawings:  {osp.join(s["work_dir"], "vis")}/ '
          f'({len(s["vis"])} val {"videos" if video else "images"})')
    print(f'  logs:      {s["log_dir"]}')
    print(f'  summary:   {osp.join(s["work_dir"], "demo_summary.json")}')
    print(bar)


if __name__ == '__main__':
    main()
