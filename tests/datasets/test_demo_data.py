"""The synthetic demo data: deterministic, self-consistent, loadable by
pycocotools and by the mmdet/mmseg datasets of the demo configs."""
import hashlib
import json
import os
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config

from uniformer_mm.datasets import (SEG_CLASSES, SHAPE_CLASSES,
                                   make_coco_instances, make_seg_dataset,
                                   prepare_synthetic_data)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs'
DET_CFG = DEMO / 'detection/demo/mask-rcnn_uniformer-tiny_fpn_synthetic.py'
SEG_CFG = DEMO / 'segmentation/demo/fpn_uniformer-tiny_synthetic.py'
SMALL = dict(num_train=12, num_val=4, image_size=96, verbose=False)


def _digest(root):
    """sha1 of every file under root except the manifest, by relative path."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            path = osp.join(dirpath, f)
            rel = osp.relpath(path, root)
            if rel != 'manifest.json':
                with open(path, 'rb') as fh:
                    out[rel] = hashlib.sha1(fh.read()).hexdigest()
    return out


@pytest.fixture
def one_thread():
    """Small models run much faster single-threaded on a small, shared CPU
    (OpenMP threads spin against each other)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    return make_coco_instances(
        str(tmp_path_factory.mktemp('coco') / 'd'), empty_every=5, **SMALL)


@pytest.fixture(scope='module')
def seg_root(tmp_path_factory):
    return make_seg_dataset(str(tmp_path_factory.mktemp('seg') / 'd'), **SMALL)


def test_deterministic(tmp_path, coco_root, seg_root):
    again = make_coco_instances(str(tmp_path / 'c2'), empty_every=5, **SMALL)
    assert _digest(again) == _digest(coco_root)
    assert len(_digest(again)) == 2 + 12 + 4
    seg2 = make_seg_dataset(str(tmp_path / 's2'), **SMALL)
    assert _digest(seg2) == _digest(seg_root)
    other = make_seg_dataset(str(tmp_path / 's3'), seed=7, **SMALL)
    assert _digest(other) != _digest(seg_root)


def test_idempotent_and_regenerated(tmp_path):
    root = str(tmp_path / 'd')
    make_coco_instances(root, **SMALL)
    stamp = osp.getmtime(osp.join(root, 'manifest.json'))
    before = _digest(root)
    make_coco_instances(root, **SMALL)  # same parameters: nothing done
    assert osp.getmtime(osp.join(root, 'manifest.json')) == stamp
    assert _digest(root) == before
    make_coco_instances(root, **dict(SMALL, num_train=5))  # regenerated
    with open(osp.join(root, 'annotations', 'instances_train.json')) as f:
        assert len(json.load(f)['images']) == 5
    assert len(os.listdir(osp.join(root, 'images', 'train'))) == 5
    assert not [p for p in os.listdir(tmp_path) if p != 'd']  # no leftovers


def test_refuses_foreign_directory(tmp_path):
    (tmp_path / 'mine').mkdir()
    (tmp_path / 'mine' / 'precious.txt').write_text('keep me')
    with pytest.raises(FileExistsError, match='manifest'):
        make_coco_instances(str(tmp_path / 'mine'), **SMALL)
    assert (tmp_path / 'mine' / 'precious.txt').read_text() == 'keep me'
    assert sorted(os.listdir(tmp_path)) == ['mine']


def test_coco_annotations_agree_with_pixels(coco_root):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    for split in ('train', 'val'):
        coco = COCO(
            osp.join(coco_root, 'annotations', f'instances_{split}.json'))
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())
                ] == list(SHAPE_CLASSES)
        assert len(coco.getImgIds()) == (12 if split == 'train' else 4)
        for ann in coco.loadAnns(coco.getAnnIds()):
            img = coco.loadImgs(ann['image_id'])[0]
            x, y, w, h = ann['bbox']
            assert w > 0 and h > 0 and x >= 0 and y >= 0
            assert x + w <= img['width'] and y + h <= img['height']
            poly = np.asarray(ann['segmentation'][0]).reshape(-1, 2)
            # the box is exactly the polygon's extent
            np.testing.assert_allclose(poly.min(0), [x, y], atol=1e-6)
            np.testing.assert_allclose(poly.max(0), [x + w, y + h], atol=0.011)
            mask = coco.annToMask(ann)
            assert mask.sum() == ann['area'] > 0
            assert ann['area'] <= (w + 1) * (h + 1)
            ys, xs = np.nonzero(mask)
            assert xs.min() >= np.floor(x) and xs.max() <= np.ceil(x + w)
            assert ys.min() >= np.floor(y) and ys.max() <= np.ceil(y + h)
            rle = mask_utils.frPyObjects(ann['segmentation'], img['height'],
                                         img['width'])
            assert int(mask_utils.area(mask_utils.merge(rle))) == ann['area']
            assert ann['iscrowd'] == 0
        # instances of one image never overlap
        for img_id in coco.getImgIds():
            anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
            if anns:
                total = sum(coco.annToMask(a).astype(int) for a in anns)
                assert total.max() == 1


def test_shape_pixels_match_masks(coco_root):
    """The shapes in the image are where the masks are: inside a mask the
    colour is (nearly) flat and differs from the pixels around it."""
    import cv2
    from pycocotools.coco import COCO
    coco = COCO(osp.join(coco_root, 'annotations', 'instances_val.json'))
    for img in coco.loadImgs(coco.getImgIds()):
        image = cv2.imread(
            osp.join(coco_root, 'images', 'val',
                     img['file_name'])).astype(np.float32)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img['id'])):
            mask = coco.annToMask(ann).astype(bool)
            inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3)))
            ring = cv2.dilate(mask.astype(np.uint8), np.ones((7, 7))) & ~(
                cv2.dilate(mask.astype(np.uint8), np.ones(
                    (3, 3))).astype(bool))
            if inner.sum() < 10:
                continue
            inside = image[inner.astype(bool)].mean(0)
            around = image[ring.astype(bool)].mean(0)
            assert np.linalg.norm(inside - around) > 40
            assert image[inner.astype(bool)].std(0).max() < 12


def test_empty_images_in_train(coco_root):
    with open(osp.join(coco_root, 'annotations', 'instances_train.json')) as f:
        coco = json.load(f)
    with_anns = {a['image_id'] for a in coco['annotations']}
    empty = [i['id'] for i in coco['images'] if i['id'] not in with_anns]
    assert 1 in empty  # image 000000.jpg
    assert len(empty) == 3  # 0, 5, 10
    with open(osp.join(coco_root, 'manifest.json')) as f:
        assert json.load(f)['stats']['train']['empty_images'] == 3


def test_seg_labels(seg_root):
    import cv2
    for split in ('training', 'validation'):
        imgs = sorted(os.listdir(osp.join(seg_root, 'images', split)))
        anns = sorted(os.listdir(osp.join(seg_root, 'annotations', split)))
        assert [osp.splitext(f)[0]
                for f in imgs] == [osp.splitext(f)[0] for f in anns]
        seen = set()
        for f in anns:
            label = cv2.imread(
                osp.join(seg_root, 'annotations', split, f),
                cv2.IMREAD_UNCHANGED)
            assert label.dtype == np.uint8 and label.ndim == 2
            assert label.shape == (96, 96)
            values = set(np.unique(label).tolist())
            assert values <= set(range(len(SEG_CLASSES)))
            assert 0 in values and len(values) > 1
            seen |= values
        if split == 'training':
            assert seen == set(range(len(SEG_CLASSES)))


def test_cli(tmp_path):
    import subprocess
    import sys
    out = tmp_path / 'cli'
    args = [
        sys.executable, '-m', 'uniformer_mm.datasets.synthetic', '--kind',
        'seg', '--out',
        str(out), '--num-train', '3', '--num-val', '2', '--image-size', '64'
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'RuntimeWarning' not in done.stderr
    assert len(os.listdir(out / 'annotations' / 'training')) == 3
    from uniformer_mm.datasets.synthetic import MANIFEST, main
    before = os.stat(out / MANIFEST).st_mtime_ns
    main(args[3:])  # same parameters, in-process: nothing to do
    assert os.stat(out / MANIFEST).st_mtime_ns == before


# ------------------------------------------------- demo configs and datasets
def test_prepare_rewrites_paths(tmp_path):
    cfg = Config.fromfile(str(DET_CFG))
    cfg.synthetic_data.update(num_train=6, num_val=2)
    root = prepare_synthetic_data(cfg, str(tmp_path / 'det'), verbose=False)
    assert root == str(tmp_path / 'det')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.data_root == str(tmp_path / 'det') + os.sep
    assert cfg.val_evaluator.ann_file == osp.join(
        str(tmp_path / 'det'), 'annotations', 'instances_val.json')
    assert osp.isfile(cfg.test_evaluator.ann_file)
    # the config's classes are the generator's
    assert tuple(cfg.classes) == SHAPE_CLASSES
    assert tuple(Config.fromfile(str(SEG_CFG)).classes) == SEG_CLASSES


def test_mmdet_dataset_from_demo_config(tmp_path):
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(DET_CFG))
    cfg.synthetic_data.update(num_train=6, num_val=2)
    prepare_synthetic_data(cfg, str(tmp_path / 'det'), verbose=False)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(train) == 6  # the empty image is kept (filter_empty_gt=False)
    assert train.metainfo['classes'] == SHAPE_CLASSES
    empty = train[0]  # 000000.jpg has no shapes
    assert set(empty) == {'inputs', 'data_samples'}
    assert len(empty['data_samples'].gt_instances) == 0
    sample = next(train[i] for i in range(1, 6)
                  if len(train[i]['data_samples'].gt_instances))
    assert tuple(sample['inputs'].shape) == (3, 128, 128)
    gt = sample['data_samples'].gt_instances
    assert {'bboxes', 'labels', 'masks'} <= set(gt.keys())
    assert gt.masks.masks.shape[0] == len(gt.labels)
    assert int(gt.labels.max()) < len(SHAPE_CLASSES)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(val) == 2
    assert 'scale_factor' in val[0]['data_samples'].metainfo


def test_mmseg_dataset_from_demo_config(tmp_path):
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(SEG_CFG))
    cfg.synthetic_data.update(num_train=5, num_val=2)
    prepare_synthetic_data(cfg, str(tmp_path / 'seg'), verbose=False)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    assert len(train) == 5
    assert train.metainfo['classes'] == SEG_CLASSES
    sample = train[0]
    assert set(sample) == {'inputs', 'data_samples'}
    assert tuple(sample['inputs'].shape) == (3, 128, 128)
    seg = sample['data_samples'].gt_sem_seg.data
    assert tuple(seg.shape) == (1, 128, 128)
    assert set(seg.unique().tolist()) <= set(range(len(SEG_CLASSES)))
    assert len(DATASETS.build(cfg.val_dataloader.dataset)) == 2


def test_empty_image_trains(tmp_path, one_thread):
    """One Mask R-CNN training step on a batch with an image without
    annotations gives finite losses and gradients."""
    import torch
    from mmdet.registry import DATASETS, MODELS
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(DET_CFG))
    cfg.synthetic_data.update(num_train=3, num_val=1)
    prepare_synthetic_data(cfg, str(tmp_path / 'det'), verbose=False)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    for batch in ([train[0]], [train[0], train[1]]):
        data = model.data_preprocessor(pseudo_collate(batch), True)
        losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        assert torch.isfinite(loss)
        model.zero_grad()
        loss.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert grads and all(torch.isfinite(g).all() for g in grads)
