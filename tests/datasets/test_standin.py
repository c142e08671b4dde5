"""Stand-in data sets (uniformer_mm.datasets.standin): written where the zoo
configs' own dataset classes read them, in the published formats, read back
by the upstream classes and loaders, idempotent, deterministic, and never
over a real data set."""
import copy
import importlib
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from uniformer_mm.datasets.standin import COCO_CATEGORY_IDS, make_standin_data

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DET_CFG = 'configs/detection/mask-rcnn_uniformer-s-h14_fpn_1x_coco.py'
SEG_CFG = ('configs/segmentation/'
           'upernet_uniformer-s_8xb2-160k_ade20k-512x512.py')
POSE_CFG = 'configs/pose/td-hm_uniformer-s_8xb128-210e_coco-256x192.py'
STHV2_CFG = 'configs/video/uniformer-s_k400-pre_8xb4-u16-50e_sthv2-rgb.py'
STHV1_CFG = 'configs/video/uniformer-s_k400-pre_8xb4-u16-60e_sthv1-rgb.py'
K400_CFG = ('configs/video/'
            'uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_kinetics400-rgb.py')
UCF_CFG = ('configs/video/'
           'uniformer-s_k400-pre_8xb16-16x4x1-25e_ucf101-split1-rgb.py')
# the ten ids COCO 2017 never used
COCO_UNUSED = {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}
_PATH_KEYS = ('data_root', 'ann_file', 'bbox_file', 'img', 'video', 'img_path',
              'seg_map_path')


def _rebase(node, root):
    """Move every ``data/...`` path of a dataset config under ``root``."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if (key in _PATH_KEYS and isinstance(value, str)
                    and value.startswith('data/')):
                node[key] = osp.join(str(root), value[len('data/'):])
            else:
                _rebase(value, root)
    elif isinstance(node, list):
        for item in node:
            _rebase(item, root)
    return node


_CONFIGS = {}


def dataset_cfg(path, split, root):
    """The ``split`` dataset of a zoo config, as a plain dict under root."""
    if path not in _CONFIGS:
        _CONFIGS[path] = Config.fromfile(osp.join(REPO, path))
    cfg = _CONFIGS[path][f'{split}_dataloader']['dataset']
    cfg = _rebase(copy.deepcopy(cfg.to_dict()), root)
    cfg = cfg.get('dataset', cfg)  # inside RepeatAugVideoDataset (train)
    # the clip-consistent RandAugment is another issue's; loading is ours
    cfg['pipeline'] = [
        t for t in cfg['pipeline'] if t['type'] != 'PytorchVideoWrapper'
    ]
    return cfg


def build(cfg, scope):
    """Build ``cfg`` with the upstream dataset class of ``scope``."""
    importlib.import_module(f'{scope}.utils').register_all_modules(
        init_default_scope=False)
    registry = importlib.import_module(f'{scope}.registry').DATASETS
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(copy.deepcopy(cfg))


def mtimes(paths):
    out = {}
    for path in paths:
        if osp.isdir(path):
            for name in sorted(os.listdir(path)):
                out[osp.join(path, name)] = os.stat(osp.join(path,
                                                             name)).st_mtime_ns
        out[path] = os.stat(path).st_mtime_ns
    return out


def frame_count(path):
    import av
    with av.open(path) as container:
        return sum(1 for _ in container.decode(video=0))


# ---------------------------------------------------------------- mmdet
def test_coco_instances_real_ids_names_and_masks(tmp_path):
    from mmdet.datasets import CocoDataset
    from pycocotools.coco import COCO
    cfg = dataset_cfg(DET_CFG, 'train', tmp_path)
    files = make_standin_data(cfg, scope='mmdet', num_samples=3)
    ann_file = osp.join(cfg['data_root'], cfg['ann_file'])
    img_dir = osp.join(cfg['data_root'], cfg['data_prefix']['img'])
    assert ann_file == str(tmp_path / 'coco/annotations/'
                           'instances_train2017.json')
    assert ann_file in files and all(osp.exists(f) for f in files)

    coco = COCO(ann_file)
    cats = coco.loadCats(coco.getCatIds())
    ids = [c['id'] for c in cats]
    assert len(ids) == 80 and max(ids) == 90
    assert set(ids) == set(range(1, 91)) - COCO_UNUSED
    assert ids == list(COCO_CATEGORY_IDS)
    assert [c['name'] for c in cats] == list(CocoDataset.METAINFO['classes'])
    assert cats[0]['name'] == 'person' and cats[-1]['id'] == 90
    assert coco.loadCats(90)[0]['name'] == 'toothbrush'

    assert len(coco.getImgIds()) == 3
    for img in coco.loadImgs(coco.getImgIds()):
        pixels = cv2.imread(osp.join(img_dir, img['file_name']))
        assert pixels.shape == (img['height'], img['width'], 3)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id']))
        assert anns
        for ann in anns:
            assert ann['iscrowd'] == 0 and ann['category_id'] in ids
            poly = np.array(ann['segmentation'][0]).reshape(-1, 2)
            x0, y0 = poly.min(0)
            x1, y1 = poly.max(0)
            np.testing.assert_allclose(
                ann['bbox'], [x0, y0, x1 - x0, y1 - y0], atol=0.02)
            # area: the pixels of the polygon as pycocotools rasterises it
            assert coco.annToMask(ann).sum() == ann['area'] > 0

    ds = build(cfg, 'mmdet')
    assert len(ds) == 3
    sample = ds[0]
    inst = sample['data_samples'].gt_instances
    assert len(inst) > 0 and inst.masks is not None
    assert ((inst.labels >= 0) & (inst.labels < 80)).all()


def test_coco_instances_own_classes_and_num_classes(tmp_path):
    from pycocotools.coco import COCO
    cfg = dataset_cfg(DET_CFG, 'val', tmp_path)
    cfg['metainfo'] = dict(classes=('cat', 'dog'))
    make_standin_data(cfg, scope='mmdet', num_samples=2)
    coco = COCO(osp.join(cfg['data_root'], cfg['ann_file']))
    cats = coco.loadCats(coco.getCatIds())
    assert [(c['id'], c['name']) for c in cats] == [(1, 'cat'), (2, 'dog')]
    ds = build(cfg, 'mmdet')
    assert ds.metainfo['classes'] == ('cat', 'dog') and len(ds) == 2
    labels = np.concatenate(
        [[i['bbox_label'] for i in ds.get_data_info(k)['instances']]
         for k in range(len(ds))])
    assert set(labels) <= {0, 1}

    # a head with fewer classes: only the first categories are used
    cfg = dataset_cfg(DET_CFG, 'train', tmp_path)
    make_standin_data(cfg, scope='mmdet', num_samples=4, num_classes=3)
    coco = COCO(osp.join(cfg['data_root'], cfg['ann_file']))
    assert len(coco.getCatIds()) == 80
    used = {a['category_id'] for a in coco.dataset['annotations']}
    assert used <= set(COCO_CATEGORY_IDS[:3])
    with pytest.raises(ValueError, match='num_classes'):
        make_standin_data(cfg, scope='mmdet', num_classes=81)


# ---------------------------------------------------------------- mmseg
def test_ade20k_layout_values_and_dataset(tmp_path):
    cfg = dataset_cfg(SEG_CFG, 'train', tmp_path)
    make_standin_data(cfg, scope='mmseg', num_samples=3)
    root = tmp_path / 'ade/ADEChallengeData2016'
    assert cfg['data_root'] == str(root)
    jpgs = sorted(os.listdir(root / 'images/training'))
    pngs = sorted(os.listdir(root / 'annotations/training'))
    assert [f for f in jpgs if f.endswith('.jpg')] == jpgs and len(jpgs) == 3
    assert [p[:-4] for p in pngs] == [j[:-4] for j in jpgs]
    values = set()
    for jpg, png in zip(jpgs, pngs):
        img = cv2.imread(str(root / 'images/training' / jpg))
        label = cv2.imread(
            str(root / 'annotations/training' / png), cv2.IMREAD_UNCHANGED)
        assert label.dtype == np.uint8 and label.shape == img.shape[:2]
        values |= set(np.unique(label).tolist())
    # 0 is ADE20K's "other"; classes are 1..150
    assert 0 in values and len(values) > 2 and max(values) <= 150

    ds = build(cfg, 'mmseg')
    assert len(ds) == 3 and len(ds.metainfo['classes']) == 150
    seg = ds[0]['data_samples'].gt_sem_seg.data
    kept = set(seg.unique().tolist()) - {255}
    assert kept and max(kept) < 150  # reduce_zero_label: 0 -> 255

    # the validation split of the same config, and a 5-class head
    val = dataset_cfg(SEG_CFG, 'val', tmp_path)
    make_standin_data(val, scope='mmseg', num_samples=2, num_classes=5)
    assert len(build(val, 'mmseg')) == 2
    for png in os.listdir(root / 'annotations/validation'):
        label = cv2.imread(
            str(root / 'annotations/validation' / png), cv2.IMREAD_UNCHANGED)
        assert label.max() <= 5


def test_seg_own_classes_with_list_file(tmp_path):
    cfg = dict(
        type='BaseSegDataset',
        data_root=str(tmp_path / 'mine'),
        ann_file='splits/train.txt',
        data_prefix=dict(img_path='img', seg_map_path='ann'),
        metainfo=dict(
            classes=('bg', 'road', 'car'),
            palette=[[0, 0, 0], [1, 1, 1], [2, 2, 2]]),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='PackSegInputs')
        ])
    make_standin_data(cfg, scope='mmseg', num_samples=2)
    names = open(tmp_path / 'mine/splits/train.txt').read().split()
    assert len(names) == 2
    ds = build(cfg, 'mmseg')
    assert len(ds) == 2
    seg = ds[1]['data_samples'].gt_sem_seg.data
    assert set(seg.unique().tolist()) <= {0, 1, 2}


# --------------------------------------------------------------- mmpose
def test_coco_keypoints_and_detected_boxes(tmp_path):
    from mmpose.datasets.datasets.body import CocoDataset
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from xtcocotools.coco import COCO
    train = dataset_cfg(POSE_CFG, 'train', tmp_path)
    make_standin_data(train, scope='mmpose', num_samples=2)
    coco = COCO(osp.join(train['data_root'], train['ann_file']))
    person, = coco.loadCats(coco.getCatIds())
    meta = parse_pose_metainfo(CocoDataset.METAINFO)
    names = [meta['keypoint_id2name'][i] for i in range(17)]
    assert person['id'] == 1 and person['name'] == 'person'
    assert person['keypoints'] == names and len(person['skeleton']) == 19
    anns = coco.loadAnns(coco.getAnnIds())
    assert anns
    for ann in anns:
        kps = np.array(ann['keypoints']).reshape(17, 3)
        assert ann['num_keypoints'] == (kps[:, 2] > 0).sum()
        assert set(kps[:, 2]) <= {0, 1, 2} and ann['iscrowd'] == 0
        x, y, w, h = ann['bbox']
        img = coco.loadImgs(ann['image_id'])[0]
        assert 0 <= x and x + w <= img['width'] and y + h <= img['height']
        assert 0 < ann['area'] <= w * h
    ds = build(train, 'mmpose')
    assert len(ds) == sum(a['num_keypoints'] > 0 for a in anns)
    assert ds[0]['inputs'].shape == (3, 256, 192)

    test = dataset_cfg(POSE_CFG, 'test', tmp_path)
    assert test['bbox_file'].startswith(str(tmp_path))
    files = make_standin_data(test, scope='mmpose', num_samples=2)
    assert test['bbox_file'] in files
    dets = json.load(open(test['bbox_file']))
    val = COCO(osp.join(test['data_root'], test['ann_file']))
    assert isinstance(dets, list) and dets
    for det in dets:
        assert set(det) == {'image_id', 'category_id', 'bbox', 'score'}
        assert det['category_id'] == 1 and 0 < det['score'] <= 1
        assert det['image_id'] in val.getImgIds() and len(det['bbox']) == 4
    ds = build(test, 'mmpose')
    assert len(ds) == len(dets)
    assert ds[0]['data_samples'].gt_instances.bboxes.shape == (1, 4)


# ------------------------------------------------------------- mmaction
@pytest.mark.parametrize('path,classes,frames,ext', [
    (STHV2_CFG, 174, 40, '.webm'),
    (K400_CFG, 400, 64, '.mp4'),
    (UCF_CFG, 101, 64, '.avi'),
])
def test_videos(tmp_path, path, classes, frames, ext):
    train = dataset_cfg(path, 'train', tmp_path)
    make_standin_data(train, scope='mmaction', num_samples=3)
    lines = open(train['ann_file']).read().splitlines()
    assert len(lines) == 3
    labels = []
    for line in lines:
        name, label = line.split(' ')
        assert name.endswith(ext)
        assert frame_count(osp.join(train['data_prefix']['video'],
                                    name)) == frames
        labels.append(int(label))
    # spread over the whole range: both ends and one in between
    assert labels[0] == 0 and labels[2] == classes - 1
    assert abs(labels[1] - (classes - 1) / 2) <= 0.5
    ds = build(train, 'mmaction')
    assert len(ds) == 3
    assert ds[2]['data_samples'].gt_label.item() == classes - 1

    test = dataset_cfg(path, 'test', tmp_path)
    make_standin_data(test, scope='mmaction', num_samples=2, num_classes=7)
    ds = build(test, 'mmaction')
    assert [ds.get_data_info(i)['label'] for i in range(2)] == [0, 6]
    assert ds[0]['inputs'].shape[1:3] == (3, 16)  # clips x C x T x H x W


def test_sthv2_splits_share_the_video_folder(tmp_path):
    train = dataset_cfg(STHV2_CFG, 'train', tmp_path)
    val = dataset_cfg(STHV2_CFG, 'val', tmp_path)
    assert train['data_prefix'] == val['data_prefix']
    a = make_standin_data(train, scope='mmaction', num_samples=2)
    b = make_standin_data(val, scope='mmaction', num_samples=2)
    videos = sorted(os.listdir(train['data_prefix']['video']))
    assert len(videos) == 4 and not set(a) & set(b)
    assert len(build(train, 'mmaction')) == len(build(val, 'mmaction')) == 2


def test_sthv1_rawframes(tmp_path):
    cfg = dataset_cfg(STHV1_CFG, 'val', tmp_path)
    assert cfg['filename_tmpl'] == '{:05d}.jpg'
    make_standin_data(cfg, scope='mmaction', num_samples=2)
    lines = open(cfg['ann_file']).read().splitlines()
    for line, label in zip(lines, (0, 173)):
        frame_dir, total, lab = line.split(' ')
        assert int(lab) == label
        names = sorted(
            os.listdir(osp.join(cfg['data_prefix']['img'], frame_dir)))
        # RawframeDataset counts frames from start_index 1
        assert names == [f'{i:05d}.jpg' for i in range(1, int(total) + 1)]
        assert cv2.imread(
            osp.join(cfg['data_prefix']['img'], frame_dir,
                     names[-1])).shape == (96, 128, 3)
    ds = build(cfg, 'mmaction')
    assert len(ds) == 2
    assert ds[1]['inputs'].shape == (1, 3, 16, 224, 224)

    # offsets and another template
    cfg.update(
        with_offset=True,
        filename_tmpl='img_{:05}.jpg',
        start_index=0,
        ann_file=cfg['ann_file'] + '.offsets')
    make_standin_data(cfg, scope='mmaction', num_samples=1)
    frame_dir, offset, total, label = open(cfg['ann_file']).read().split()
    assert offset == '0' and label == '0'
    assert osp.isfile(
        osp.join(cfg['data_prefix']['img'], frame_dir, 'img_00000.jpg'))
    assert build(cfg, 'mmaction')[0]['inputs'].shape[2] == 16


# ------------------------------------------------------ sharing and safety
def test_second_call_writes_nothing(tmp_path):
    cfgs = [(dataset_cfg(DET_CFG, 'train', tmp_path), 'mmdet'),
            (dataset_cfg(SEG_CFG, 'val', tmp_path), 'mmseg'),
            (dataset_cfg(POSE_CFG, 'test', tmp_path), 'mmpose'),
            (dataset_cfg(STHV1_CFG, 'train', tmp_path), 'mmaction'),
            (dataset_cfg(K400_CFG, 'val', tmp_path), 'mmaction')]
    for cfg, scope in cfgs:
        files = make_standin_data(cfg, scope=scope)
        before = mtimes(files)
        again = make_standin_data(cfg, scope=scope)
        assert again == files
        assert mtimes(files) == before
    # the val and test splits of one config share their files
    test = dataset_cfg(K400_CFG, 'test', tmp_path)
    val = dataset_cfg(K400_CFG, 'val', tmp_path)
    files = make_standin_data(val, scope='mmaction')
    before = mtimes(files)
    assert make_standin_data(test, scope='mmaction') == files
    assert mtimes(files) == before


def test_configs_with_shorter_samplers_share_longer_videos(tmp_path):
    long_cfg = K400_CFG.replace('16x4x1', '32x4x1')  # 128 frames
    short = dataset_cfg(K400_CFG, 'val', tmp_path)  # 16 x 4: 64 frames
    files = make_standin_data(short, scope='mmaction')
    name = open(short['ann_file']).read().split()[0]
    video = osp.join(short['data_prefix']['video'], name)
    assert frame_count(video) == 64
    longer = dataset_cfg(long_cfg, 'val', tmp_path)
    assert longer['ann_file'] == short['ann_file']
    assert make_standin_data(longer, scope='mmaction') == files
    assert frame_count(video) == 128
    before = mtimes(files)
    assert make_standin_data(short, scope='mmaction') == files
    assert mtimes(files) == before


def test_other_sample_counts_regenerate(tmp_path):
    cfg = dataset_cfg(STHV1_CFG, 'train', tmp_path)
    make_standin_data(cfg, scope='mmaction', num_samples=3)
    make_standin_data(cfg, scope='mmaction', num_samples=1)
    assert len(build(cfg, 'mmaction')) == 1
    assert len(os.listdir(cfg['data_prefix']['img'])) == 1
    seg = dataset_cfg(SEG_CFG, 'train', tmp_path)
    make_standin_data(seg, scope='mmseg', num_samples=3)
    make_standin_data(seg, scope='mmseg', num_samples=2)
    assert len(build(seg, 'mmseg')) == 2  # a folder scan: no stale files


def test_refuses_real_data(tmp_path):
    cfg = dataset_cfg(DET_CFG, 'val', tmp_path)
    ann_file = osp.join(cfg['data_root'], cfg['ann_file'])
    os.makedirs(osp.dirname(ann_file))
    with open(ann_file, 'w') as f:
        f.write('{"real": true}')
    with pytest.raises(FileExistsError, match='instances_val2017.json'):
        make_standin_data(cfg, scope='mmdet')
    assert open(ann_file).read() == '{"real": true}'
    assert not osp.exists(osp.join(cfg['data_root'], 'val2017'))

    # a real image folder: nothing is added to it
    cfg = dataset_cfg(DET_CFG, 'train', tmp_path)
    img_dir = osp.join(cfg['data_root'], cfg['data_prefix']['img'])
    os.makedirs(img_dir)
    open(osp.join(img_dir, '000000000009.jpg'), 'wb').close()
    with pytest.raises(FileExistsError, match='000000000009.jpg'):
        make_standin_data(cfg, scope='mmdet')
    assert os.listdir(img_dir) == ['000000000009.jpg']
    assert not osp.exists(osp.join(cfg['data_root'], cfg['ann_file']))

    # a real ADE20K folder (read by a folder scan, no annotation file)
    seg = dataset_cfg(SEG_CFG, 'train', tmp_path)
    img_dir = osp.join(seg['data_root'], 'images/training')
    os.makedirs(img_dir)
    open(osp.join(img_dir, 'ADE_train_00000001.jpg'), 'wb').close()
    with pytest.raises(FileExistsError, match='training'):
        make_standin_data(seg, scope='mmseg')
    assert os.listdir(img_dir) == ['ADE_train_00000001.jpg']

    # a stand-in list file edited by hand is not overwritten either
    video = dataset_cfg(K400_CFG, 'train', tmp_path)
    make_standin_data(video, scope='mmaction')
    with open(video['ann_file'], 'a') as f:
        f.write('my_video.mp4 3\n')
    with pytest.raises(FileExistsError, match='changed'):
        make_standin_data(video, scope='mmaction', num_samples=3)


def test_deterministic_in_seed(tmp_path):

    def contents(root, seed):
        out = {}
        for path, scope in ((DET_CFG, 'mmdet'), (POSE_CFG, 'mmpose'),
                            (K400_CFG, 'mmaction')):
            split = 'test' if scope == 'mmpose' else 'val'
            cfg = dataset_cfg(path, split, root)
            for f in make_standin_data(cfg, scope=scope, seed=seed):
                if not f.endswith('.standin.json'):
                    out[osp.relpath(f, root)] = open(f, 'rb').read()
        return out

    a = contents(tmp_path / 'a', 0)
    assert a == contents(tmp_path / 'b', 0)
    c = contents(tmp_path / 'c', 1)
    assert a.keys() == c.keys()
    assert all(a[k] != c[k] for k in a if not k.endswith('.txt'))


def test_bad_input():
    with pytest.raises(ValueError, match='VideoDataset'):
        make_standin_data(
            dict(type='LVISDataset', ann_file='x.json'), scope='mmdet')
    with pytest.raises(ValueError, match='supported'):
        make_standin_data(dict(type='CocoDataset'), scope='mmaction')
    with pytest.raises(ValueError, match='num_samples'):
        make_standin_data(
            dict(type='VideoDataset', ann_file='x.txt'),
            scope='mmaction',
            num_samples=0)


def test_cli_writes_every_split_of_a_config(tmp_path):
    from uniformer_mm.datasets.standin import main
    files = main([
        osp.join(REPO, STHV1_CFG), '--data-root',
        str(tmp_path), '--num-samples', '1'
    ])
    for name in ('sthv1_train_list_rawframes.txt',
                 'sthv1_val_list_rawframes.txt'):
        assert str(tmp_path / 'sthv1' / name) in files
    assert len(os.listdir(tmp_path / 'sthv1/rawframes')) == 2


def test_same_named_lists_sharing_a_folder_are_refused(tmp_path):
    a = dict(
        type='VideoDataset',
        ann_file=str(tmp_path / 'a/train.txt'),
        data_prefix=dict(video=str(tmp_path / 'videos')),
        pipeline=[])
    b = dict(a, ann_file=str(tmp_path / 'b/train.txt'))
    c = dict(a, ann_file=str(tmp_path / 'b/train_2.txt'))
    make_standin_data(a, scope='mmaction', num_classes=3)
    with pytest.raises(FileExistsError, match='also named'):
        make_standin_data(b, scope='mmaction', num_classes=3)
    make_standin_data(c, scope='mmaction', num_classes=3)  # another name
    assert len(os.listdir(tmp_path / 'videos')) == 4
    assert len(build(a, 'mmaction')) == len(build(c, 'mmaction')) == 2


def test_an_interrupted_run_is_replaced(tmp_path):
    seg = dataset_cfg(SEG_CFG, 'val', tmp_path)
    files = make_standin_data(seg, scope='mmseg', num_samples=3)
    manifest = files[-1]
    info = json.load(open(manifest))
    # as if killed while writing: the manifest lists nothing yet
    info.update(state='writing', files=[])
    json.dump(info, open(manifest, 'w'))
    make_standin_data(seg, scope='mmseg', num_samples=2)
    assert len(build(seg, 'mmseg')) == 2  # no leftovers in the scan
