"""Bad pose input, handled as MMPose does:

* a person whose keypoints are all unlabelled (``num_keypoints == 0``):
  MMPose's top-down CocoDataset drops it when loading (train and GT-box
  val); a sample that reaches the pipeline without any visible keypoint
  gets all-zero target weights and trains with a finite (zero) loss; COCO
  evaluation ignores such a ground truth, and a prediction in its box is
  matched to it rather than counted as a false positive.
* a person box partly outside the image: CocoDataset clips a ground-truth
  box to the image; a box that is not clipped (e.g. from a detector or given
  to the inferencer) is cropped by TopdownAffine, which fills the part
  outside the image with zeros, and the keypoints map back into the image.
"""
import copy
import json
import os
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

from uniformer_mm.datasets import make_coco_keypoints

ROOT = Path(__file__).resolve().parents[2]
POSE_CFG = ROOT / 'configs/pose/demo/td-hm_uniformer-tiny_synthetic.py'


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def cfg():
    init_default_scope('mmpose')
    return Config.fromfile(str(POSE_CFG))


def _person(image_id, ann_id, bbox, keypoints):
    kps = np.asarray(keypoints, float).reshape(17, 3)
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=1,
        bbox=bbox,
        area=float(bbox[2] * bbox[3] * 0.5),
        iscrowd=0,
        num_keypoints=int((kps[:, 2] > 0).sum()),
        keypoints=kps.reshape(-1).tolist())


def _write_coco(root, image, persons, name='000000.jpg'):
    """One image with the given persons, in COCO person-keypoints form."""
    img_dir = osp.join(root, 'images')
    os.makedirs(img_dir, exist_ok=True)
    cv2.imwrite(osp.join(img_dir, name), image)
    h, w = image.shape[:2]
    ann_file = osp.join(root, 'ann.json')
    with open(ann_file, 'w') as f:
        json.dump(
            dict(
                images=[dict(id=1, file_name=name, width=w, height=h)],
                annotations=persons,
                categories=[dict(id=1, name='person')]), f)
    return ann_file


def _dataset(cfg, root, ann_file, test_mode):
    from mmpose.registry import DATASETS
    loader = cfg.val_dataloader if test_mode else cfg.train_dataloader
    ds_cfg = copy.deepcopy(loader.dataset)
    ds_cfg.update(
        data_root=root, ann_file=ann_file, data_prefix=dict(img='images/'))
    return DATASETS.build(ds_cfg)


def _figure_keypoints(cx, cy, scale):
    """A plausible upright pose (17 x 3, all visible) around (cx, cy)."""
    from uniformer_mm.datasets.synthetic_pose import figure_keypoints
    kpt, _ = figure_keypoints(np.random.default_rng(0))
    xy = kpt * scale + np.array([cx, cy])
    return np.concatenate([xy, np.full((17, 1), 2.0)], 1)


def _train_step(model, batch):
    data = model.data_preprocessor(pseudo_collate(batch), True)
    losses = model(**data, mode='loss')
    loss, _ = model.parse_losses(losses)
    model.zero_grad()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return loss, grads


def test_all_keypoints_invisible_trains(tmp_path, cfg):
    from mmpose.registry import MODELS
    image = np.full((128, 128, 3), 127, np.uint8)
    labelled = _figure_keypoints(90, 60, 22)
    hidden = labelled.copy()
    hidden[:, 2] = 1  # every keypoint labelled but occluded
    persons = [
        _person(1, 1, [30, 10, 50, 110], np.zeros(51)),  # nothing labelled
        _person(1, 2, [70, 20, 40, 100], labelled.reshape(-1)),
        _person(1, 3, [70, 20, 40, 100], hidden.reshape(-1)),
    ]
    ann = _write_coco(str(tmp_path), image, persons)
    train = _dataset(cfg, str(tmp_path), ann, test_mode=False)
    # MMPose's top-down CocoDataset drops a person without any labelled
    # keypoint (num_keypoints == 0) when it loads the annotations; occluded
    # (v=1) keypoints are labelled and train like visible ones
    assert sorted(train.get_data_info(i)['id']
                  for i in range(len(train))) == [2, 3]
    full = train[0]
    assert float(
        full['data_samples'].gt_instance_labels.keypoint_weights.sum()) > 0

    # a sample that reaches the pipeline with no visible keypoint at all
    # (another dataset, or every joint pushed out of the crop): all target
    # weights are zero
    info = train.get_data_info(0)
    info['keypoints_visible'] = np.zeros_like(info['keypoints_visible'])
    empty = train.pipeline(info)
    labels = empty['data_samples'].gt_instance_labels
    assert float(labels.keypoint_weights.sum()) == 0

    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    # alone: a finite zero loss (it has nothing to learn from)
    loss, grads = _train_step(model, [empty])
    assert torch.isfinite(loss) and float(loss) == 0
    assert all(torch.isfinite(g).all() for g in grads)
    # beside a labelled person: finite
    loss_both, grads = _train_step(model, [empty, full])
    assert torch.isfinite(loss_both) and float(loss_both) > 0
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_evaluator_ignores_person_without_keypoints(tmp_path, cfg):
    """CocoMetric (xtcocotools COCOeval): a GT person with no labelled
    keypoint is ignored; a prediction in its box neither helps nor hurts."""
    from mmpose.evaluation import CocoMetric
    gt_kps = _figure_keypoints(90, 60, 22)
    persons = [
        _person(1, 1, [70, 20, 40, 100], gt_kps.reshape(-1)),
        _person(1, 2, [5, 10, 50, 110], np.zeros(51)),
    ]
    ann = _write_coco(
        str(tmp_path), np.zeros((128, 128, 3), np.uint8), persons)

    def evaluate(predictions):
        metric = CocoMetric(ann_file=ann, outfile_prefix=str(tmp_path / 'r'))
        metric.dataset_meta = _dataset(
            cfg, str(tmp_path), ann, test_mode=True).metainfo
        samples = []
        for i, (kps, bbox) in enumerate(predictions):
            samples.append(
                dict(
                    id=i + 1,
                    img_id=1,
                    img_path='000000.jpg',
                    category_id=1,
                    ori_shape=(128, 128),
                    raw_ann_info=persons[i],
                    gt_instances=dict(bbox_scores=np.ones(1)),
                    pred_instances=dict(
                        keypoints=kps[None, :, :2].astype(np.float32),
                        keypoint_scores=np.ones((1, 17), np.float32),
                        bboxes=np.array([bbox], np.float32),
                        bbox_scores=np.ones(1, np.float32))))
        metric.process([], samples)
        return metric.evaluate(len(samples))

    junk = np.concatenate(
        [np.random.default_rng(1).uniform(5, 55, (17, 2)),
         np.ones((17, 1))], 1)
    perfect = evaluate([(gt_kps, [70, 20, 110, 120])])
    with_empty = evaluate([(gt_kps, [70, 20, 110, 120]),
                           (junk, [5, 10, 55, 120])])
    assert perfect['coco/AP'] == pytest.approx(1.0)
    assert with_empty['coco/AP'] == pytest.approx(1.0)
    assert with_empty['coco/AR'] == pytest.approx(1.0)


def test_box_partly_outside_image_is_clipped_by_dataset(tmp_path, cfg):
    image = np.full((96, 128, 3), 90, np.uint8)
    kps = _figure_keypoints(10, 40, 20)
    inside = ((kps[:, 0] >= 0) & (kps[:, 0] < 128) & (kps[:, 1] >= 0) &
              (kps[:, 1] < 96))
    assert not inside.all()  # the figure leaves the image on the left
    kps[~inside] = 0  # COCO: points outside the image are not labelled
    persons = [_person(1, 1, [-25, -12, 60, 100], kps.reshape(-1))]
    ann = _write_coco(str(tmp_path), image, persons)
    for test_mode in (False, True):
        ds = _dataset(cfg, str(tmp_path), ann, test_mode=test_mode)
        info = ds.get_data_info(0)
        # x1, y1, x2, y2 clipped to the image
        np.testing.assert_allclose(info['bbox'], [[0, 0, 35, 88]])
        sample = ds[0]
        assert tuple(sample['inputs'].shape) == (3, 128, 96)
    # training: the out-of-image points have zero weight, the step is finite
    from mmpose.registry import MODELS
    train = _dataset(cfg, str(tmp_path), ann, test_mode=False)
    weights = train[0]['data_samples'].gt_instance_labels.keypoint_weights
    assert float(weights.sum()) <= inside.sum()
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    loss, grads = _train_step(model, [train[0], train[0]])
    assert torch.isfinite(loss)
    assert all(torch.isfinite(g).all() for g in grads)


def test_unclipped_box_outside_image_is_padded_by_affine(cfg):
    """A box that is not clipped (as a detector or a user may give it):
    TopdownAffine crops it, zeros outside the image, and predictions come
    back in image coordinates."""
    from mmcv.transforms import Compose
    from mmpose.apis import inference_topdown
    from mmpose.registry import MODELS
    image = np.full((96, 128, 3), 200, np.uint8)
    bbox = np.array([[-40, -30, 40, 90]], np.float32)  # xyxy
    pipeline = Compose(cfg.val_pipeline)
    data = pipeline(
        dict(img=image, bbox=bbox, bbox_score=np.ones(1, np.float32)))
    crop = data['inputs'].numpy()
    assert crop.shape == (3, 128, 96)
    # left and top of the crop are outside the image: zero-filled
    assert (crop[:, :, :10] == 0).all() and (crop[:, :10] == 0).all()
    # the padded, aspect-fixed box spans x -56..56, y -45..105: the image
    # (x 0..127, y 0..95) fills crop columns 48.. and rows 38..119
    assert (crop[:, 45:110, 55:] == 200).all()
    assert (crop[:, 124:] == 0).all()  # below the image

    from mmpose.apis.inference import dataset_meta_from_config
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.cfg = cfg
    model.dataset_meta = dataset_meta_from_config(cfg, 'train')
    model.eval()
    (result, ) = inference_topdown(model, image, bbox, bbox_format='xyxy')
    kps = result.pred_instances.keypoints
    assert kps.shape == (1, 17, 2) and np.isfinite(kps).all()
    # predictions are within the (padded) box, in image coordinates
    assert (kps[..., 0] >= -40 * 1.25 - 1).all()
    assert (kps[..., 0] <= 40 + 25).all()


def test_generated_box_touching_border(tmp_path, cfg):
    """Figures of the generated set that leave the frame load and crop."""
    from mmpose.registry import DATASETS
    root = make_coco_keypoints(
        str(tmp_path / 'd'),
        num_train=30,
        num_val=1,
        out_of_frame_prob=1.0,
        verbose=False)
    with open(osp.join(root, 'annotations',
                       'person_keypoints_train.json')) as f:
        coco = json.load(f)
    border = [
        a for a in coco['annotations']
        if a['bbox'][0] == 0 or a['bbox'][1] == 0 or a['bbox'][0] +
        a['bbox'][2] >= 128 or a['bbox'][1] + a['bbox'][3] >= 128
    ]
    assert border
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.update(data_root=root)
    train = DATASETS.build(ds_cfg)
    ids = {a['id'] for a in border}
    for i in range(len(train)):
        if train.get_data_info(i)['id'] in ids:
            sample = train[i]
            assert tuple(sample['inputs'].shape) == (3, 128, 96)
            assert torch.isfinite(
                sample['data_samples'].gt_fields.heatmaps).all()
