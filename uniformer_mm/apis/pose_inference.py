"""Run a trained top-down pose config on images and draw the keypoints.

    python tools/demo/pose_demo.py IMAGE [IMAGE ...] CONFIG --weights CKPT \
        [--gt ANN.json] [--out-dir DIR] [--kpt-thr 0.3] [--device cpu]

IMAGE may be a file or a directory of images. The model is MMPose's
``Pose2DInferencer`` built from the config and the weights (read
weights-only), without a person detector: a top-down model needs person
boxes, and they come from ``--gt`` (a COCO keypoints json holding the
images: each annotated person's box, as in the GT-box test setting) or,
without it or for an image it does not list, the whole image (the
inferencer's ``det_model='whole_image'``). Each box is cropped, the
keypoints predicted (with the config's flip test) and mapped back to the
image.

Predictions go to ``DIR/preds/<stem>.json`` (``bboxes`` xyxy,
``keypoints`` (N, K, 2) in image pixels, ``keypoint_scores`` (N, K)),
drawings to ``DIR/vis/`` (MMPose's ``PoseLocalVisualizer``: skeleton and
keypoints scoring at least ``--kpt-thr``, upscaled for small images;
``--gt`` adds the ground truth on the left). ``tools/demo/image_demo.py``
hands pose configs to this script.
"""
import json
import os.path as osp
import warnings
from typing import Dict, Optional, Sequence, Union

from .inputs import (IMAGE_EXTS, coco_boxes_xyxy, demo_parser, draw_sample,
                     list_inputs, output_dirs, parse_demo_args, print_outputs,
                     refuse_partial_checkpoint, run_kwargs)


def _as_numpy_meta(meta: Dict) -> Dict:
    """Weights-only checkpoints store the metainfo's numpy arrays (colours,
    sigmas) as tensors; the visualizer and codecs expect numpy."""
    import numpy as np
    import torch
    return {
        k:
        v.numpy() if isinstance(v, torch.Tensor) else
        (np.asarray(v) if k.endswith('_colors') else v)
        for k, v in meta.items()
    }


def build_pose_inferencer(config,
                          weights: Optional[str] = None,
                          device: str = 'cpu',
                          allow_partial_checkpoint: bool = False):
    """A ``Pose2DInferencer`` for a top-down ``config`` (path or mmengine
    ``Config``) with ``weights`` (read weights-only), without a detector;
    weights that do not fit the model in full are refused unless
    ``allow_partial_checkpoint``.
    """
    from mmengine.config import Config
    from mmpose.apis.inferencers import Pose2DInferencer

    # first: registers the backbones and supplies the torchvision-only
    # module that mmpose.apis imports (uniformer_mm.compat)
    import uniformer_mm  # noqa: F401
    from uniformer_mm.checkpoints import install_weights_only_loader
    install_weights_only_loader()  # the inferencer reads weights-only
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    cfg = cfg.copy()
    if cfg.get('default_scope') != 'mmpose':
        raise ValueError(f'not an MMPose config (default_scope='
                         f'{cfg.get("default_scope")!r})')
    if cfg.get('data_mode', 'topdown') != 'topdown':
        raise ValueError('pose_demo draws top-down models; this config has '
                         f'data_mode={cfg.data_mode!r}')
    # MMPose 1.3's OpenCV drawing calls int() on 1-element arrays, which
    # numpy >= 2.3 refuses; the matplotlib backend draws the same
    cfg.visualizer = dict(
        cfg.get('visualizer') or dict(type='PoseLocalVisualizer'),
        backend='matplotlib')
    with warnings.catch_warnings():
        # without weights MMPose warns that the model is random
        warnings.filterwarnings('ignore', message='.*weights is None.*')
        inferencer = Pose2DInferencer(
            model=cfg, weights=weights, device=device, det_model='whole_image')
    refuse_partial_checkpoint(inferencer.model, weights,
                              allow_partial_checkpoint)
    meta = _as_numpy_meta(inferencer.model.dataset_meta)
    inferencer.model.dataset_meta = meta
    inferencer.visualizer.set_dataset_meta(meta)
    inferencer.task = 'pose'
    return inferencer


def coco_people(ann_file: str) -> Dict[str, Dict]:
    """file name -> ``bboxes`` (N, 4) xyxy, ``keypoints`` (N, K, 2),
    ``keypoints_visible`` (N, K) of the annotated persons."""
    import numpy as np
    with open(ann_file) as f:
        coco = json.load(f)
    by_image = {img['id']: (img['file_name'], []) for img in coco['images']}
    for ann in coco['annotations']:
        if ann.get('iscrowd', 0) or 'keypoints' not in ann:
            continue
        by_image[ann['image_id']][1].append(ann)
    people = {}
    for name, anns in by_image.values():
        kpts = np.array([a['keypoints'] for a in anns],
                        np.float32).reshape(len(anns), -1, 3)
        people[name] = dict(
            bboxes=coco_boxes_xyxy(anns),
            keypoints=kpts[..., :2],
            keypoints_visible=(kpts[..., 2] > 0).astype(np.float32))
    return people


def _draw(visualizer, path, pred, out_file, kpt_thr, vis_scale, gt=None):
    import numpy as np
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample

    def build(s):
        inst = InstanceData()
        inst.keypoints = np.asarray(pred['keypoints'], np.float32).reshape(
            len(pred['bboxes']), -1, 2) * s
        inst.keypoint_scores = np.asarray(pred['keypoint_scores'],
                                          np.float32).reshape(
                                              inst.keypoints.shape[:2])
        inst.bboxes = np.asarray(pred['bboxes'], np.float32).reshape(-1, 4) * s
        sample = PoseDataSample(pred_instances=inst)
        if gt is not None:
            gt_inst = InstanceData()
            gt_inst.bboxes = gt['bboxes'] * s
            gt_inst.keypoints = gt['keypoints'] * s
            gt_inst.keypoints_visible = gt['keypoints_visible']
            sample.gt_instances = gt_inst
        # marks grow with the drawing
        visualizer.radius = max(2, s + 1)
        visualizer.line_width = max(1, s // 2)
        return sample

    draw_sample(
        visualizer,
        path,
        vis_scale,
        out_file,
        build,
        draw_bbox=True,
        kpt_thr=kpt_thr)


def run_pose_inference(images: Union[str, Sequence[str]],
                       config=None,
                       weights: Optional[str] = None,
                       out_dir: str = 'work_dirs/pose_demo',
                       kpt_thr: float = 0.3,
                       device: str = 'cpu',
                       inferencer=None,
                       ground_truth: Optional[str] = None,
                       vis_scale: Union[int, str] = 'auto',
                       allow_partial_checkpoint: bool = False) -> Dict:
    """Predict the keypoints of the persons in ``images``, draw them to
    ``out_dir/vis`` and save them to ``out_dir/preds``.

    Args:
        images: Image files or directories.
        config: Config file or mmengine ``Config`` (unused when
            ``inferencer`` is given).
        weights: Checkpoint (read weights-only); None: random init.
        out_dir: Output directory. Defaults to ``work_dirs/pose_demo``.
        kpt_thr: Draw keypoints scoring at least this. Defaults to 0.3.
        device: Torch device. Defaults to ``'cpu'``.
        inferencer: A ready inferencer from :func:`build_pose_inferencer`.
        ground_truth: A COCO keypoints json holding the images: its person
            boxes are where poses are predicted, and its keypoints are drawn
            on the left. Images it does not list (or without persons) use
            the whole image as the box. Defaults to None (whole images).
        vis_scale: Upscaling of the drawings: an int or ``'auto'`` (short
            side >= 384 px). Defaults to ``'auto'``.
        allow_partial_checkpoint: Load ``weights`` even when not every
            tensor fits the model (otherwise refused, naming the tensors).

    Returns:
        dict: ``task`` ('pose'), ``images``, ``vis_files`` (one drawing per
        image), ``predictions`` (one per image: ``bboxes`` (N, 4) xyxy,
        ``keypoints`` (N, K, 2), ``keypoint_scores`` (N, K), as lists).
    """
    import numpy as np
    from mmpose.apis import inference_topdown

    import uniformer_mm  # noqa: F401  (before mmpose.apis, as above)
    if isinstance(images, str):
        images = [images]
    images = list_inputs(images, IMAGE_EXTS)
    if inferencer is None:
        inferencer = build_pose_inferencer(config, weights, device,
                                           allow_partial_checkpoint)
    people = coco_people(ground_truth) if ground_truth else {}
    vis_dir, pred_dir = output_dirs(out_dir)
    vis_files, predictions = [], []
    for path in images:
        gt = people.get(osp.basename(path))
        boxes = gt['bboxes'] if gt is not None and len(gt['bboxes']) else None
        # boxes=None: the whole image is the box
        samples = inference_topdown(
            inferencer.model, path, boxes, bbox_format='xyxy')
        pred = dict(
            bboxes=np.concatenate([s.pred_instances.bboxes
                                   for s in samples]).tolist(),
            keypoints=np.concatenate(
                [s.pred_instances.keypoints for s in samples]).tolist(),
            keypoint_scores=np.concatenate(
                [s.pred_instances.keypoint_scores for s in samples]).tolist())
        stem = osp.splitext(osp.basename(path))[0]
        with open(osp.join(pred_dir, f'{stem}.json'), 'w') as f:
            json.dump(pred, f)
        out_file = osp.join(vis_dir, osp.basename(path))
        _draw(inferencer.visualizer, path, pred, out_file, kpt_thr, vis_scale,
              gt if ground_truth else None)
        vis_files.append(out_file)
        predictions.append(pred)
    return dict(
        task='pose',
        images=images,
        vis_files=vis_files,
        predictions=predictions)


def parse_args(argv=None):
    parser = demo_parser(
        'Draw a top-down pose config\'s keypoints on images (MMPose '
        'Pose2DInferencer; person boxes from --gt or the whole image).',
        'IMAGE', 'work_dirs/demo/pose/model_weights.pth',
        'work_dirs/pose_demo', 'COCO keypoints json: person boxes to read '
        'the poses in, and ground truth drawn on the left')
    parser.add_argument(
        '--kpt-thr',
        type=float,
        default=0.3,
        help='draw keypoints scoring at least this')
    return parse_demo_args(parser, 'IMAGE', argv)


def main(argv=None):
    args = parse_args(argv)
    out = run_pose_inference(
        args.inputs, kpt_thr=args.kpt_thr, **run_kwargs(args))
    print_outputs(out['images'], out['vis_files'], out['predictions'],
                  lambda pred: f'{len(pred["bboxes"])} person(s)',
                  args.out_dir)


if __name__ == '__main__':
    main()
