"""The synthetic COCO-keypoints figures: deterministic, idempotent,
self-consistent COCO annotations, loadable by MMPose's CocoDataset through
the pose demo config (crops and heatmap targets of the configured sizes)."""
import hashlib
import json
import os
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config

from uniformer_mm.datasets import make_coco_keypoints, prepare_synthetic_data
from uniformer_mm.datasets.synthetic_pose import (KEYPOINT_NAMES, SKELETON,
                                                  draw_pose_scene)

ROOT = Path(__file__).resolve().parents[2]
POSE_CFG = ROOT / 'configs/pose/demo/td-hm_uniformer-tiny_synthetic.py'
SMALL = dict(
    num_train=24, num_val=6, image_size=96, unlabeled_every=4, verbose=False)


def _digest(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            path = osp.join(dirpath, f)
            rel = osp.relpath(path, root)
            if rel != 'manifest.json':
                with open(path, 'rb') as fh:
                    out[rel] = hashlib.sha1(fh.read()).hexdigest()
    return out


@pytest.fixture(scope='module')
def pose_root(tmp_path_factory):
    return make_coco_keypoints(
        str(tmp_path_factory.mktemp('pose') / 'd'), **SMALL)


def _load(root, split):
    with open(osp.join(root, 'annotations',
                       f'person_keypoints_{split}.json')) as f:
        return json.load(f)


def test_deterministic_and_idempotent(tmp_path, pose_root):
    other = make_coco_keypoints(str(tmp_path / 'again'), **SMALL)
    assert _digest(other) == _digest(pose_root)
    manifest = osp.join(other, 'manifest.json')
    stamp = os.stat(manifest).st_mtime_ns
    make_coco_keypoints(other, **SMALL)  # same parameters: nothing to do
    assert os.stat(manifest).st_mtime_ns == stamp
    make_coco_keypoints(other, **dict(SMALL, seed=1))  # regenerated
    assert _digest(other) != _digest(pose_root)
    with open(manifest) as f:
        assert json.load(f)['params']['seed'] == 1


def test_coco_keypoint_annotations(pose_root):
    size = SMALL['image_size']
    stats = {0: 0, 1: 0, 2: 0}
    for split, num in (('train', SMALL['num_train']), ('val',
                                                       SMALL['num_val'])):
        coco = _load(pose_root, split)
        (cat, ) = coco['categories']
        assert cat['id'] == 1 and cat['name'] == 'person'
        assert tuple(cat['keypoints']) == KEYPOINT_NAMES
        assert [tuple(s) for s in cat['skeleton']] == list(SKELETON)
        assert len(coco['images']) == num
        image_ids = {img['id'] for img in coco['images']}
        for ann in coco['annotations']:
            assert ann['image_id'] in image_ids
            assert ann['category_id'] == 1 and ann['iscrowd'] == 0
            kps = np.array(ann['keypoints'], float).reshape(17, 3)
            vis = kps[:, 2]
            assert set(vis.tolist()) <= {0, 1, 2}
            assert ann['num_keypoints'] == int((vis > 0).sum())
            # COCO: unlabelled points are (0, 0, 0)
            assert (kps[vis == 0, :2] == 0).all()
            lab = kps[vis > 0, :2]
            assert ((lab >= 0) & (lab < size)).all()
            x, y, w, h = ann['bbox']
            assert 0 <= x and 0 <= y and x + w <= size and y + h <= size
            assert w > 0 and h > 0 and 0 < ann['area'] <= w * h
            for v in (0, 1, 2):
                stats[v] += int((vis == v).sum())
    # occluded (v=1) and out-of-frame (v=0) keypoints both occur
    assert stats[1] > 0 and stats[0] > 0 and stats[2] > stats[1]


def test_unlabeled_persons(pose_root):
    every = SMALL['unlabeled_every']
    coco = _load(pose_root, 'train')
    empty = {
        a['image_id'] - 1
        for a in coco['annotations'] if a['num_keypoints'] == 0
    }
    # image k * every (k >= 1) carries one person without keypoints
    assert {i
            for i in empty
            if i % every == 0} == set(range(every, SMALL['num_train'], every))
    for ann in coco['annotations']:
        if ann['num_keypoints'] == 0:
            assert not any(ann['keypoints'])
            assert ann['area'] > 0


def test_figures_face_the_viewer():
    """Left joints are on the image's right (as for a person facing the
    camera), so a flip with the COCO left/right swap is again a figure."""
    for index in range(8):
        image, persons = draw_pose_scene(3, 'train', index, 128, 2, 0.45, 0.9,
                                         0.5, 0.0)
        assert image.shape == (128, 128, 3) and image.dtype == np.uint8
        assert persons
        for p in persons:
            kps = p['keypoints']
            assert kps.shape == (17, 3)
            for left, right in ((5, 6), (11, 12), (1, 2), (3, 4)):
                if kps[left, 2] and kps[right, 2]:
                    assert kps[left, 0] > kps[right, 0]


def test_cli(tmp_path):
    from uniformer_mm.datasets.synthetic_pose import main
    out = tmp_path / 'cli'
    main([
        '--out',
        str(out), '--num-train', '2', '--num-val', '1', '--image-size', '64'
    ])
    assert sorted(os.listdir(out / 'images' /
                             'train')) == ['000000.jpg', '000001.jpg']
    with open(out / 'manifest.json') as f:
        assert json.load(f)['params']['kind'] == 'coco_keypoints'


def test_bad_parameters(tmp_path):
    for bad in (dict(image_size=32), dict(max_people=0),
                dict(min_height=0.9, max_height=0.5), dict(occlude_prob=1.5),
                dict(unlabeled_every=-1)):
        with pytest.raises(ValueError):
            make_coco_keypoints(str(tmp_path / 'x'), verbose=False, **bad)


def test_mmpose_dataset_from_demo_config(tmp_path):
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    cfg = Config.fromfile(str(POSE_CFG))
    assert cfg.synthetic_data.kind == 'coco_keypoints'
    cfg.synthetic_data.update(num_train=6, num_val=2)
    root = prepare_synthetic_data(cfg, str(tmp_path / 'pose'), verbose=False)
    assert cfg.val_evaluator.ann_file.startswith(root)
    train = DATASETS.build(cfg.train_dataloader.dataset)
    coco = _load(root, 'train')
    assert len(train) == len(coco['annotations'])  # one sample per person
    assert train.metainfo['dataset_name'] == 'coco'
    assert len(train.metainfo['sigmas']) == 17
    w, h = cfg.codec.input_size
    hw, hh = cfg.codec.heatmap_size
    sample = train[0]
    assert tuple(sample['inputs'].shape) == (3, h, w)
    fields = sample['data_samples'].gt_fields
    assert tuple(fields.heatmaps.shape) == (17, hh, hw)
    weights = sample['data_samples'].gt_instance_labels.keypoint_weights
    assert tuple(weights.shape) == (1, 17)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(val) == len(_load(root, 'val')['annotations'])
    assert tuple(val[0]['inputs'].shape) == (3, h, w)
