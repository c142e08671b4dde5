"""Run a trained detection or segmentation config on images and draw the
result.

    python tools/demo/image_demo.py IMAGE [IMAGE ...] CONFIG --weights CKPT \
        [--out-dir DIR] [--score-thr 0.3] [--device cpu]

IMAGE may be a file or a directory of images. The task follows the config's
``default_scope``: ``mmdet`` -> MMDetection's ``DetInferencer`` (boxes and
masks), ``mmseg`` -> MMSegmentation's ``MMSegInferencer`` (class map),
``mmpose`` -> ``tools/demo/pose_demo.py`` (MMPose's ``Pose2DInferencer``;
keypoints in the ``--gt`` person boxes, else in the whole image).
Predictions go to ``DIR/preds/`` (detection: one json per image, as
DetInferencer writes it; segmentation: label PNGs named after the images),
drawings to ``DIR/vis/`` (the inferencer's visualizer, upscaled for small
images; ``--gt`` adds the ground truth on the left).

``CKPT`` is read weights-only (torch's default), like every checkpoint in
uniformer_mm: ``tools/demo/run_demo.py`` writes ``model_weights.pth`` in
that form (``{'state_dict': ..., 'meta': {'dataset_meta': ...}}``). Without
``--weights`` the model keeps its random initialisation (a smoke test).
"""
import os.path as osp
import warnings
from typing import Dict, Optional, Sequence, Union

from .inputs import (IMAGE_EXTS, coco_boxes_xyxy, demo_parser, draw_sample,
                     list_inputs, output_dirs, parse_demo_args, print_outputs,
                     refuse_partial_checkpoint, run_kwargs)


def _task_of(cfg) -> str:
    scope = cfg.get('default_scope')
    if scope in ('mmdet', 'mmseg', 'mmpose'):
        return {
            'mmdet': 'detection',
            'mmseg': 'segmentation',
            'mmpose': 'pose'
        }[scope]
    raise ValueError(f'cannot tell the task of the config (default_scope='
                     f'{scope!r}); expected an mmdet, mmseg or mmpose config')


def _pose_demo():
    """:mod:`.pose_inference` (top-down pose configs are drawn there)."""
    from . import pose_inference
    return pose_inference


def _dataset_meta(cfg) -> Optional[Dict]:
    """classes/palette of the config's test (or train) dataset metainfo."""
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        loader = cfg.get(key)
        meta = loader and loader.get('dataset', {}).get('metainfo')
        if meta and meta.get('classes'):
            return dict(
                classes=tuple(meta['classes']),
                palette=[tuple(c) for c in meta.get('palette', [])] or None)
    return None


def build_inferencer(config,
                     weights: Optional[str] = None,
                     device: str = 'cpu',
                     allow_partial_checkpoint: bool = False):
    """A ``DetInferencer`` / ``MMSegInferencer`` for ``config`` (a path or an
    mmengine ``Config``) with ``weights`` (read weights-only), refused unless
    every tensor fits the model (``allow_partial_checkpoint``: load what
    fits, as the inferencers do)."""
    from mmengine.config import Config

    import uniformer_mm  # noqa: F401  (registers the backbones)
    from uniformer_mm.checkpoints import install_weights_only_loader
    install_weights_only_loader()  # the inferencer reads weights-only
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    cfg = cfg.copy()
    # the inferencer builds the model itself; no pretrained weights needed
    task = _task_of(cfg)
    if task == 'pose':
        return _pose_demo().build_pose_inferencer(cfg, weights, device,
                                                  allow_partial_checkpoint)
    meta = _dataset_meta(cfg)
    with warnings.catch_warnings():
        # without weights the inferencers warn and fall back to COCO /
        # Cityscapes classes; we set the config's classes below instead
        warnings.filterwarnings('ignore', message='.*weights is None.*')
        warnings.filterwarnings(
            'ignore', message='.*Checkpoint is not loaded.*')
        warnings.filterwarnings('ignore', message='.*dataset_meta or class.*')
        if task == 'detection':
            from mmdet.apis import DetInferencer
            inferencer = DetInferencer(
                model=cfg, weights=weights, device=device, show_progress=False)
        else:
            from mmseg.apis import MMSegInferencer
            inferencer = MMSegInferencer(
                model=cfg, weights=weights, device=device)
    refuse_partial_checkpoint(inferencer.model, weights,
                              allow_partial_checkpoint)
    model_meta = getattr(inferencer.model, 'dataset_meta', None) or {}
    if meta is not None and (weights is None or not model_meta.get('classes')
                             or len(model_meta['classes']) != len(
                                 meta['classes'])):
        inferencer.model.dataset_meta = dict(meta)
        if task == 'detection':
            inferencer.visualizer.dataset_meta = dict(meta)
    inferencer.task = task
    return inferencer


def _upscale_masks(masks, scale):
    import cv2
    import numpy as np
    if scale == 1:
        return masks.astype(bool)
    return np.stack([
        cv2.resize(
            m.astype(np.float32),
            None,
            fx=scale,
            fy=scale,
            interpolation=cv2.INTER_LINEAR) >= 0.5 for m in masks
    ]) if len(masks) else np.zeros(
        (0, ) + tuple(s * scale for s in masks.shape[1:]), bool)


def _coco_ground_truth(ann_file: str) -> Dict[str, Dict]:
    """file name -> {'bboxes' (xyxy), 'labels' (0-based), 'masks'}."""
    import numpy as np
    from pycocotools.coco import COCO
    coco = COCO(ann_file)
    cat_ids = sorted(coco.getCatIds())
    gt = {}
    for img in coco.loadImgs(coco.getImgIds()):
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id'], iscrowd=None))
        h, w = img['height'], img['width']
        gt[img['file_name']] = dict(
            bboxes=coco_boxes_xyxy(anns),
            labels=np.array([cat_ids.index(a['category_id']) for a in anns],
                            np.int64),
            masks=np.array([coco.annToMask(a) for a in anns],
                           bool).reshape(-1, h, w))
    return gt


def _draw_detection(visualizer,
                    path,
                    pred,
                    out_file,
                    score_thr,
                    vis_scale,
                    gt=None):
    import numpy as np
    import torch
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    from pycocotools import mask as mask_utils

    def build(s):
        scores = np.asarray(pred['scores'], np.float32)
        keep = scores >= score_thr
        inst = InstanceData()
        inst.scores = torch.from_numpy(scores[keep])
        inst.labels = torch.as_tensor(
            np.asarray(pred['labels'], np.int64)[keep])
        inst.bboxes = torch.as_tensor(
            np.asarray(pred['bboxes'], np.float32).reshape(-1, 4)[keep] * s)
        if 'masks' in pred and keep.any():
            masks = np.stack([
                mask_utils.decode(m).astype(bool)
                for m, k in zip(pred['masks'], keep) if k
            ])
            inst.masks = torch.from_numpy(_upscale_masks(masks, s))
        sample = DetDataSample(pred_instances=inst)
        if gt is not None:
            gt_inst = InstanceData()
            gt_inst.bboxes = torch.from_numpy(gt['bboxes'] * s)
            gt_inst.labels = torch.from_numpy(gt['labels'])
            if len(gt['masks']):
                gt_inst.masks = torch.from_numpy(
                    _upscale_masks(gt['masks'], s))
            sample.gt_instances = gt_inst
        return sample

    draw_sample(
        visualizer, path, vis_scale, out_file, build, pred_score_thr=score_thr)


def _draw_segmentation(visualizer,
                       path,
                       sem,
                       out_file,
                       vis_scale,
                       gt_file=None):
    import cv2
    import numpy as np
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    def build(s):

        def pixels(label):
            label = cv2.resize(
                label.astype(np.uint8),
                None,
                fx=s,
                fy=s,
                interpolation=cv2.INTER_NEAREST)
            return PixelData(
                data=torch.from_numpy(label.astype(np.int64))[None])

        sample = SegDataSample(pred_sem_seg=pixels(sem))
        if gt_file is not None:
            sample.gt_sem_seg = pixels(
                cv2.imread(gt_file, cv2.IMREAD_UNCHANGED))
        return sample

    draw_sample(visualizer, path, vis_scale, out_file, build, with_labels=True)


def run_inference(images: Union[str, Sequence[str]],
                  config,
                  weights: Optional[str] = None,
                  out_dir: str = 'work_dirs/image_demo',
                  score_thr: float = 0.3,
                  device: str = 'cpu',
                  inferencer=None,
                  ground_truth: Optional[str] = None,
                  vis_scale: Union[int, str] = 'auto',
                  allow_partial_checkpoint: bool = False) -> Dict:
    """Infer on ``images``, draw to ``out_dir/vis``, save predictions to
    ``out_dir/preds``.

    Args:
        images: Image files or directories.
        config: Config file or mmengine ``Config``.
        weights: Checkpoint (read weights-only); None: random init.
        out_dir: Output directory.
        score_thr: Detection: draw detections scoring at least this.
        device: Torch device.
        inferencer: A ready inferencer from :func:`build_inferencer`.
        ground_truth: Optional, drawn on the left of each prediction:
            detection: a COCO json with the images; segmentation: the
            directory of label PNGs (``<image stem>.png``).
        vis_scale: Upscaling of the drawings: an int or ``'auto'`` (short
            side >= 384 px). Predictions are made on the original images.
        allow_partial_checkpoint: Load ``weights`` even when not every
            tensor fits the model (otherwise refused, naming the tensors).

    Returns:
        dict: ``task``, ``images`` (inputs), ``vis_files`` (the drawn
        images, one per input), ``predictions`` (one per input: detection
        ``{'labels', 'scores', 'bboxes', 'masks'}`` as ``DetInferencer``
        returns them (xyxy boxes, RLE masks), segmentation ``{'sem_seg': HxW
        int array}``).
    """
    if isinstance(images, str):
        images = [images]
    images = list_inputs(images, IMAGE_EXTS)
    if inferencer is None:
        inferencer = build_inferencer(config, weights, device,
                                      allow_partial_checkpoint)
    task = inferencer.task
    if task == 'pose':
        # person boxes from the ground truth json, else the whole image
        return _pose_demo().run_pose_inference(
            images,
            out_dir=out_dir,
            kpt_thr=score_thr,
            inferencer=inferencer,
            ground_truth=ground_truth,
            vis_scale=vis_scale)
    vis_dir, pred_dir = output_dirs(out_dir)
    vis_files = [osp.join(vis_dir, osp.basename(p)) for p in images]
    visualizer = inferencer.visualizer
    if task == 'detection':
        # DetInferencer predicts and writes preds/<stem>.json; we draw
        result = inferencer(
            images,
            out_dir=out_dir,
            no_save_vis=True,
            no_save_pred=False,
            pred_score_thr=score_thr,
            batch_size=1)
        predictions = result['predictions']
        gt = _coco_ground_truth(ground_truth) if ground_truth else {}
        visualizer.dataset_meta = inferencer.model.dataset_meta
        for path, pred, out_file in zip(images, predictions, vis_files):
            _draw_detection(
                visualizer, path, pred, out_file, score_thr, vis_scale,
                gt.get(osp.basename(path)) if ground_truth else None)
    else:
        import cv2
        import numpy as np
        from mmengine.infer import BaseInferencer

        # MMSegInferencer.__call__ would name its files by a counter; we
        # write preds/<stem>.png and draw ourselves
        result = BaseInferencer.__call__(
            inferencer, images, batch_size=1, img_out_dir='', pred_out_dir='')
        maps = result['predictions']
        if len(images) == 1:  # one image: not wrapped in a list
            maps = [maps]
        visualizer.set_dataset_meta(**inferencer.model.dataset_meta)
        visualizer.alpha = 0.6
        predictions = []
        for path, sem, out_file in zip(images, maps, vis_files):
            sem = np.asarray(sem)
            stem = osp.splitext(osp.basename(path))[0]
            cv2.imwrite(
                osp.join(pred_dir, f'{stem}.png'), sem.astype(np.uint8))
            predictions.append(dict(sem_seg=sem))
            gt_file = (
                osp.join(ground_truth, f'{stem}.png')
                if ground_truth else None)
            _draw_segmentation(visualizer, path, sem, out_file, vis_scale,
                               gt_file)
    return dict(
        task=task, images=images, vis_files=vis_files, predictions=predictions)


def parse_args(argv=None):
    parser = demo_parser(
        'Draw a detection / segmentation config\'s predictions on images '
        '(DetInferencer / MMSegInferencer).', 'IMAGE',
        'work_dirs/demo/detection/model_weights.pth', 'work_dirs/image_demo',
        'draw the ground truth left of the prediction: a COCO json '
        '(detection; pose: keypoints, whose person boxes are also where '
        'poses are read) or the directory of label PNGs (segmentation)')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='detection: draw boxes scoring at least this; '
        'pose: keypoints')
    return parse_demo_args(parser, 'IMAGE', argv)


def main(argv=None):
    args = parse_args(argv)
    out = run_inference(
        args.inputs, score_thr=args.score_thr, **run_kwargs(args))

    def describe(pred):
        if out['task'] == 'detection':
            kept = sum(s >= args.score_thr for s in pred['scores'])
            return f'{kept} objects >= {args.score_thr}'
        if out['task'] == 'pose':
            return f'{len(pred["bboxes"])} person(s)'
        import numpy as np
        return 'classes ' + str(sorted(np.unique(pred['sem_seg'])))

    print_outputs(out['images'], out['vis_files'], out['predictions'],
                  describe, args.out_dir)


if __name__ == '__main__':
    main()
