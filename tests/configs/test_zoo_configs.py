"""The model zoo: every config under configs/{detection,segmentation,pose,
video} (_base_/, demo/ and custom/ aside).

Every config must load, carry its official recipe (the upstream exp/*
configs and run.sh: backbone, drop path, lr, batch, schedule, pipelines),
build its model without weights with the paper's parameter count and run
it; the metafiles must list exactly these configs with the paper's numbers
(none for UCF101 / HMDB51 splits 2 and 3, which had no official run).
One discovery, load, build and metafile check for all; each family (COCO /
ADE20K UniFormer-S/B, their hourglass XXS/XS, COCO keypoints, video and
light video) adds its own checks below.
"""
import copy
import functools
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import (CONFIGS, ROOT, build_zoo_model, metafile_models,
                      zoo_configs)
from mmengine.config import Config
from mmengine.registry import DefaultScope

ZOO = zoo_configs()
ZOO_COUNTS = {'detection': 8, 'segmentation': 18, 'pose': 6, 'video': 43}
# the hourglass XXS / XS configs of COCO / ADE20K
LIGHT_2D = re.compile(r'_uniformer-(xx?s)_')
FAMILIES = ('dense-2d', 'light-2d', 'pose', 'video', 'light-video')
METAFILES = ('configs/detection/metafile.yml',
             'configs/segmentation/metafile.yml', 'configs/pose/metafile.yml',
             'configs/video/metafile.yml', 'configs/video/light/metafile.yml')
PARAM_TOLERANCE = 0.015
IMPORTS = ['uniformer_mm', 'uniformer_mm.checkpoints.safe_loading']
SCOPES = {
    'detection': 'mmdet',
    'segmentation': 'mmseg',
    'pose': 'mmpose',
    'video': 'mmaction'
}


def family(config):
    """The family of a zoo config (its path under configs/)."""
    task = config.split('/')[0]
    if task == 'video':
        return 'light-video' if config.startswith('video/light/') else 'video'
    if task == 'pose':
        return 'pose'
    return 'light-2d' if LIGHT_2D.search(config) else 'dense-2d'


@functools.lru_cache(maxsize=None)
def _load(config):
    return Config.fromfile(str(CONFIGS / config))


def load(config):
    """A fresh copy of a zoo config (parsed once per session)."""
    return copy.deepcopy(_load(config))


def _params(module):
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------- COCO / ADE20K, S / B
# Parameters in millions as the paper / official READMEs give them.
PAPER_PARAMS_2D = {
    ('mask-rcnn', 's'): 41,
    ('mask-rcnn', 'b'): 69,
    ('cascade-mask-rcnn', 's'): 79,
    ('cascade-mask-rcnn', 'b'): 107,
    ('fpn', 's'): 25,
    ('fpn', 'b'): 54,
    ('upernet', 's'): 52,
    ('upernet', 'b'): 80,
}
# Official drop path rates and checkpoint_num (exp/*/config.py upstream).
RECIPES_2D = {
    'mask-rcnn_uniformer-s-h14_fpn_1x_coco': (0.2, [0, 0, 8, 0]),
    'mask-rcnn_uniformer-s-h14_fpn_ms-3x_coco': (0.1, [0, 0, 8, 0]),
    'mask-rcnn_uniformer-b-h14_fpn_1x_coco': (0.3, False),
    'mask-rcnn_uniformer-b-h14_fpn_ms-3x_coco': (0.3, [0, 0, 20, 0]),
    'cascade-mask-rcnn_uniformer-s-h14_fpn_ms-3x_coco': (0.2, [0, 0, 8, 0]),
    'cascade-mask-rcnn_uniformer-b-h14_fpn_ms-3x_coco': (0.4, [0, 0, 20, 0]),
}
for _s in ('-h14', '-w32', '-h32', ''):
    RECIPES_2D[f'fpn_uniformer-s{_s}_8xb4-80k_ade20k-512x512'] = (0.1, False)
    RECIPES_2D[f'fpn_uniformer-b{_s}_8xb4-80k_ade20k-512x512'] = (0.2, False)
    RECIPES_2D[f'upernet_uniformer-s{_s}_8xb2-160k_ade20k-512x512'] = (0.25,
                                                                       False)
    RECIPES_2D[f'upernet_uniformer-b{_s}_8xb2-160k_ade20k-512x512'] = (0.4, [
        0, 0, 2, 0
    ])
NAME_2D = re.compile(r'^(?P<head>cascade-mask-rcnn|mask-rcnn|fpn|upernet)'
                     r'_uniformer-(?P<arch>[sb])'
                     r'(?:-(?P<attn>[hw])(?P<win>\d+))?_')


def _parse_2d(path):
    match = NAME_2D.match(Path(path).stem)
    assert match, (f'{path}: name does not follow '
                   '<head>_uniformer-<s|b>[-hN|-wN]_')
    attn = {None: 'global', 'h': 'hybrid', 'w': 'window'}[match['attn']]
    return match['head'], match['arch'], attn, match['win']


def _recipe_dense_2d(config, cfg):
    _, arch, attn_mode, window = _parse_2d(config)
    backbone = cfg.model.backbone
    assert backbone.type == 'UniFormer'
    assert backbone.arch == {'s': 'small', 'b': 'base'}[arch]
    assert backbone.attn_mode == attn_mode
    if window is not None:
        assert backbone.window_size == int(window)
    dpr, with_cp = RECIPES_2D[Path(config).stem]
    assert backbone.drop_path_rate == dpr
    assert backbone.get('with_cp', False) == with_cp
    assert backbone.init_cfg == dict(
        type='Pretrained',
        checkpoint='checkpoints/uniformer_{}_in1k.pth'.format(backbone.arch))


def _model_dense_2d(config, cfg, model):
    head, arch, attn_mode, _ = _parse_2d(config)
    assert type(model.backbone).__name__ == 'UniFormer'
    assert model.backbone.attn_mode == attn_mode
    params = _params(model) / 1e6
    paper = PAPER_PARAMS_2D[head, arch]
    assert abs(params - paper) <= PARAM_TOLERANCE * paper, (
        f'{config}: {params:.2f}M parameters, the paper says {paper}M')


def _meta_dense_2d(model):
    assert model['Results'], model['Name']
    head, arch, _, _ = _parse_2d(model['Config'])
    meta = model['Metadata']
    assert meta['Parameters'] == PAPER_PARAMS_2D[head, arch] * 10**6
    assert meta['FLOPs'] > 0 and meta['Training Data']


# ------------------------------------------- COCO / ADE20K, hourglass XXS/XS
# config -> (paper params in millions, official drop path rate, FPN widths)
RECIPES_LIGHT_2D = {
    'detection/mask-rcnn_uniformer-xxs_fpn_1x_coco.py':
    (29.4, 0., [56, 112, 224, 448]),
    'detection/mask-rcnn_uniformer-xs_fpn_1x_coco.py':
    (35.6, 0.15, [64, 128, 256, 512]),
    'segmentation/fpn_uniformer-xxs_8xb4-80k_ade20k-512x512.py':
    (13.5, 0., [56, 112, 224, 448]),
    'segmentation/fpn_uniformer-xs_8xb4-80k_ade20k-512x512.py':
    (19.7, 0.1, [64, 128, 256, 512]),
}


def _recipe_light_2d(config, cfg):
    _, drop_path, widths = RECIPES_LIGHT_2D[config]
    preset = LIGHT_2D.search(config).group(1)
    backbone = cfg.model.backbone
    assert dict(backbone) == dict(
        type='UniFormerLight',
        arch=preset,
        drop_path_rate=drop_path,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=f'checkpoints/uniformer_{preset}_224_in1k.pth'))
    assert cfg.model.neck.in_channels == widths
    if config.startswith('detection/'):
        # the official light runs switched fp16 off
        assert cfg.optim_wrapper.type == 'OptimWrapper'
        assert cfg.optim_wrapper.optimizer.lr == 1e-4


def _model_light_2d(config, cfg, model):
    paper = RECIPES_LIGHT_2D[config][0]
    assert type(model.backbone).__name__ == 'UniFormerLight'
    params = _params(model) / 1e6
    assert abs(params - paper) <= PARAM_TOLERANCE * paper, (
        f'{config}: {params:.2f}M parameters, the paper says {paper}M')
    with torch.no_grad():
        feats = model.eval().extract_feat(torch.randn(1, 3, 64, 96))
    assert len(feats) >= 4 and all(torch.isfinite(f).all() for f in feats)


def _meta_light_2d(model):
    paper = RECIPES_LIGHT_2D[model['Config'][len('configs/'):]][0]
    assert model['Metadata']['Parameters'] == round(paper * 1e6)
    assert model['Results'] and model['Weights'].startswith('https://')


# ------------------------------------------------------- COCO keypoints
# name -> (drop path, lr, images per GPU, heatmap sigma): the
# official exp/top_down_<H>x<W>_global_<arch>/config.py
RECIPES_POSE = {
    'td-hm_uniformer-s_8xb128-210e_coco-256x192': (0.2, 2e-3, 128, 2),
    'td-hm_uniformer-b_8xb128-210e_coco-256x192': (0.4, 2e-3, 128, 2),
    'td-hm_uniformer-s_8xb128-210e_coco-384x288': (0.2, 2e-3, 128, 3),
    'td-hm_uniformer-b_8xb32-210e_coco-384x288': (0.5, 5e-4, 32, 3),
    'td-hm_uniformer-s_8xb64-210e_coco-448x320': (0.2, 1e-3, 64, 3),
    'td-hm_uniformer-b_8xb32-210e_coco-448x320': (0.55, 5e-4, 32, 3),
}
# the official README's COCO val2017 AP (detected boxes)
PAPER_AP = {
    ('s', '256x192'): 74.0,
    ('s', '384x288'): 75.9,
    ('s', '448x320'): 76.2,
    ('b', '256x192'): 75.0,
    ('b', '384x288'): 76.7,
    ('b', '448x320'): 77.4,
}
NAME_POSE = re.compile(
    r'^td-hm_uniformer-(?P<arch>[sb])_8xb(?P<batch>\d+)-210e_'
    r'coco-(?P<h>\d+)x(?P<w>\d+)$')


def _parse_pose(path):
    match = NAME_POSE.match(Path(path).stem)
    assert match, f'{path}: not td-hm_uniformer-<s|b>_8xb<N>-210e_coco-HxW'
    return (match['arch'], int(match['batch']), int(match['h']),
            int(match['w']))


def _affine_sizes(pipeline):
    return [t['input_size'] for t in pipeline if t['type'] == 'TopdownAffine']


def _recipe_pose(config, cfg):
    arch, batch, h, w = _parse_pose(config)
    dpr, lr, per_gpu, sigma = RECIPES_POSE[Path(config).stem]
    backbone = cfg.model.backbone
    assert backbone.type == 'UniFormer'
    assert backbone.arch == {'s': 'small', 'b': 'base'}[arch]
    assert backbone.attn_mode == 'global'
    assert tuple(backbone.out_indices) == (3, )
    assert backbone.drop_path_rate == dpr
    assert not backbone.get('with_cp', False)
    assert backbone.init_cfg == dict(
        type='Pretrained',
        checkpoint=f'checkpoints/uniformer_{backbone.arch}_in1k.pth')

    head = cfg.model.head
    assert head.type == 'HeatmapHead' and head.in_channels == 512
    assert head.out_channels == 17
    assert tuple(head.deconv_out_channels) == (256, 256, 256)
    codec = head.decoder
    assert codec.type == 'MSRAHeatmap' and codec.sigma == sigma
    assert tuple(codec.input_size) == (w, h)
    assert tuple(codec.heatmap_size) == (w // 4, h // 4)
    # every pipeline crops at the codec's size and encodes with it
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        pipeline = cfg[loader].dataset.pipeline
        assert [tuple(s) for s in _affine_sizes(pipeline)] == [(w, h)]
    target = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t['type'] == 'GenerateTarget'
    ]
    assert target[0]['encoder'] == codec
    assert cfg.model.test_cfg.flip_test and cfg.model.test_cfg.shift_heatmap

    assert batch == per_gpu == cfg.train_dataloader.batch_size
    assert cfg.auto_scale_lr.base_batch_size == 8 * per_gpu
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.optimizer == dict(
        type='AdamW', lr=lr, betas=(0.9, 0.999), weight_decay=0.01)
    assert cfg.train_cfg.max_epochs == 210
    steps = [s for s in cfg.param_scheduler if s['type'] == 'MultiStepLR']
    assert steps[0]['milestones'] == [170, 200]
    # the paper's setting: detected person boxes
    assert cfg.test_dataloader.dataset.bbox_file.endswith(
        'COCO_val2017_detections_AP_H_56_person.json')
    assert cfg.test_evaluator.type == 'CocoMetric'


def _model_pose(config, cfg, model):
    """An (H, W) crop gives 17 heatmaps of (H/4, W/4); the backbone is the
    paper's."""
    arch, _, h, w = _parse_pose(config)
    model.eval()
    assert type(model.backbone).__name__ == 'UniFormer'
    # the dense S / B layers with one output norm (stage 4's); the official
    # pose backbone has these and three unused norms more
    assert _params(model.backbone) == {'s': 21_032_256, 'b': 49_263_552}[arch]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            feats = model.extract_feat(torch.zeros(1, 3, h, w))
            heatmaps = model.head.forward(feats)
    finally:
        torch.set_num_threads(threads)
    assert len(feats) == 1 and tuple(
        feats[0].shape) == (1, 512, h // 32, w // 32)
    assert tuple(heatmaps.shape) == (1, 17, h // 4, w // 4)
    assert torch.isfinite(heatmaps).all()


def _meta_pose(model):
    arch, batch, h, w = _parse_pose(model['Config'])
    (result, ) = model['Results']
    assert result['Task'] == 'Body 2D Keypoint'
    assert result['Dataset'] == 'COCO'
    assert result['Metrics']['AP'] == PAPER_AP[arch, f'{h}x{w}']
    assert model['Metadata']['Batch Size'] == 8 * batch
    assert model['Metadata']['FLOPs'] > 0


# ----------------------------------------- video (Kinetics, SSv1/2, UCF/HMDB)
NAME_VIDEO = re.compile(
    r'^uniformer-(?P<arch>[sb])_(?P<pre>imagenet1k|k400|k600)'
    r'-pre_(?P<gpus>\d+)xb(?P<batch>\d+)-'
    r'(?:(?P<clip>\d+)x(?P<interval>\d+)x1|u(?P<segments>\d+))-'
    r'(?P<epochs>\d+)e_(?P<data>kinetics400|kinetics600|sthv1|sthv2|'
    r'(?:ucf101|hmdb51)-split(?P<split>[123]))-rgb\.py$')

# Official run.sh settings: (drop path, lr) per config; the batch, epochs,
# clip and GPUs are in the name (checked against the config below).
RECIPES_VIDEO = {
    'uniformer-s_imagenet1k-pre_8xb16-8x8x1-100e_kinetics400-rgb.py': (0.1,
                                                                       4e-4),
    'uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_kinetics400-rgb.py': (0.1,
                                                                       1e-4),
    'uniformer-s_imagenet1k-pre_8xb4-16x8x1-110e_kinetics400-rgb.py': (0.1,
                                                                       1e-4),
    'uniformer-s_imagenet1k-pre_8xb4-32x4x1-110e_kinetics400-rgb.py': (0.1,
                                                                       1e-4),
    'uniformer-b_imagenet1k-pre_8xb8-8x8x1-100e_kinetics400-rgb.py': (0.3,
                                                                      2e-4),
    'uniformer-b_imagenet1k-pre_8xb5-16x4x1-110e_kinetics400-rgb.py':
    (0.3, 1.25e-4),
    'uniformer-b_imagenet1k-pre_8xb5-16x8x1-110e_kinetics400-rgb.py':
    (0.3, 1.25e-4),
    'uniformer-b_imagenet1k-pre_8xb4-32x4x1-110e_kinetics400-rgb.py': (0.3,
                                                                       1e-4),
    'uniformer-s_imagenet1k-pre_8xb12-16x4x1-110e_kinetics600-rgb.py': (0.1,
                                                                        3e-4),
    'uniformer-s_imagenet1k-pre_8xb4-16x8x1-110e_kinetics600-rgb.py': (0.1,
                                                                       1e-4),
    'uniformer-b_imagenet1k-pre_8xb5-16x4x1-110e_kinetics600-rgb.py':
    (0.3, 1.25e-4),
    'uniformer-b_imagenet1k-pre_8xb4-16x8x1-110e_kinetics600-rgb.py':
    (0.3, 1.25e-4),
    # 4 nodes: BASE_LR_SCALE_NUM_SHARDS made 1e-4 into 4e-4
    'uniformer-b_imagenet1k-pre_32xb4-32x4x1-110e_kinetics600-rgb.py': (0.3,
                                                                        4e-4),
}
# UCF101 / HMDB51: the official split-1 runs; splits 2 and 3 (no official
# run) are split 1's recipe on their own lists
for _data in ('ucf101', 'hmdb51'):
    for _split in (1, 2, 3):
        RECIPES_VIDEO[f'uniformer-s_k400-pre_8xb16-16x4x1-25e_{_data}-split'
                      f'{_split}-rgb.py'] = (0.2, 5e-5)
for _data, _dp in (('sthv2', {
    ('s', 16, 'k400'): 0.3,
    ('s', 16, 'k600'): 0.3,
    ('s', 32, 'k400'): 0.3,
    ('s', 32, 'k600'): 0.3,
    ('b', 16, 'k400'): 0.4,
    ('b', 16, 'k600'): 0.5,
    ('b', 32, 'k400'): 0.5,
    ('b', 32, 'k600'): 0.5
}), ('sthv1', {
    ('s', 16, 'k400'): 0.2,
    ('s', 16, 'k600'): 0.2,
    ('s', 32, 'k400'): 0.2,
    ('s', 32, 'k600'): 0.3,
    ('b', 16, 'k400'): 0.6,
    ('b', 16, 'k600'): 0.5,
    ('b', 32, 'k400'): 0.6,
    ('b', 32, 'k600'): 0.6
})):
    for (_a, _f, _pre), _d in _dp.items():
        _bs = 5 if (_a, _f) == ('b', 16) else 4
        _ep = 50 if _data == 'sthv2' else 60
        RECIPES_VIDEO[f'uniformer-{_a}_{_pre}-pre_8xb{_bs}-u{_f}-{_ep}e_'
                      f'{_data}-rgb.py'] = (_d, 2.5e-4 if _bs == 5 else 2e-4)

# Parameters (millions) with a 400-class head: UniFormer-S 21.4M and
# UniFormer-B 49.8M (paper, Table 1 of the ICLR version).
PAPER_PARAMS_VIDEO = {'s': 21.4, 'b': 49.8}
CLASSES = {
    'kinetics400': 400,
    'kinetics600': 600,
    'sthv1': 174,
    'sthv2': 174,
    'ucf101': 101,
    'hmdb51': 51
}


def _parse_video(path):
    name = Path(path).name
    match = NAME_VIDEO.match(name)
    assert match, f'{name}: name does not follow the scheme of the README'
    return match


def _video_data(m):
    """The dataset of a parsed video name, without its split."""
    return m['data'].split('-split')[0]


def _sampler(pipeline):
    found = [
        t for t in pipeline
        if t['type'] in ('SlowFastSampleFrames', 'UniformSample')
    ]
    assert len(found) == 1
    return found[0]


def _recipe_video(config, cfg):
    m = _parse_video(config)
    backbone, head = cfg.model.backbone, cfg.model.cls_head
    assert backbone.type == 'UniFormer3D'
    assert backbone.arch == {'s': 'small', 'b': 'base'}[m['arch']]
    dpr, lr = RECIPES_VIDEO[Path(config).name]
    assert backbone.drop_path_rate == dpr
    assert backbone.with_cp is False  # no official run checkpointed
    arch = backbone.arch
    pretrained = (f'uniformer_{arch}_in1k' if m['pre'] == 'imagenet1k' else
                  f'uniformer_{arch}_{m["pre"]}_16x4')
    if m['split']:
        pretrained = 'uniformer_small_k400_16x4'
        # each split reads its own lists (MMAction2's names), in every loader
        data, split = _video_data(m), m['split']
        lists = [
            cfg.train_dataloader.dataset.dataset.ann_file,
            cfg.val_dataloader.dataset.ann_file,
            cfg.test_dataloader.dataset.ann_file
        ]
        assert lists == [
            f'data/{data}/{data}_{s}_split_{split}_videos.txt'
            for s in ('train', 'val', 'val')
        ]
    assert backbone.init_cfg == dict(
        type='Pretrained', checkpoint=f'checkpoints/{pretrained}.pth')

    classes = CLASSES[_video_data(m)]
    assert head.type == 'I3DHead' and head.num_classes == classes
    assert head.dropout_ratio == 0 and head.label_smooth_eps == 0.1
    blend = cfg.model.data_preprocessor.blending
    assert [(a.type, a.alpha, a.num_classes)
            for a in blend.augments] == [('MixupBlending', 0.8, classes),
                                         ('CutmixBlending', 1.0, classes)]

    # optimiser and schedule
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(lr)
    assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
    assert cfg.optim_wrapper.clip_grad.max_norm == 20
    assert cfg.train_dataloader.batch_size == int(m['batch'])
    assert cfg.auto_scale_lr.base_batch_size == int(m['gpus']) * int(
        m['batch'])
    epochs = int(m['epochs'])
    warmup, cosine = cfg.param_scheduler
    assert cfg.train_cfg.max_epochs == epochs == cosine.end
    assert warmup.end == cosine.begin == cosine.end - cosine.T_max
    assert warmup.end == (10 if m['data'].startswith('kinetics') else 5)
    lr_floor = 4e-6 if m['gpus'] == '32' else 1e-6  # x NUM_SHARDS
    assert warmup.start_factor * lr == pytest.approx(lr_floor)
    assert cosine.eta_min == pytest.approx(lr_floor)

    # sampling and test views
    _assert_official_repeats(cfg.train_dataloader)
    train = cfg.train_dataloader.dataset.dataset.pipeline
    test = cfg.test_dataloader.dataset.pipeline
    assert cfg.test_pipeline == test and cfg.train_pipeline == train
    assert cfg.val_pipeline == cfg.val_dataloader.dataset.pipeline
    types = [t['type'] for t in train]
    for pipeline in (train, cfg.val_pipeline, test):
        sampler = _sampler(pipeline)
        if m['segments']:
            assert sampler.type == 'UniformSample'
            assert sampler.clip_len == int(m['segments'])
        else:
            # the official Kinetics loader: DATA.TARGET_FPS 30 (defaults.py),
            # USE_OFFSET_SAMPLING True (every such run's config.yaml)
            assert sampler.type == 'SlowFastSampleFrames'
            assert sampler.get('target_fps', 30) == 30
            assert sampler.get('offset_sampling', True) is True
            assert (sampler.clip_len,
                    sampler.frame_interval) == (int(m['clip']),
                                                int(m['interval']))
    crop = [t for t in test if 'Crop' in t['type']]
    resize = [t for t in test if t['type'] == 'Resize']
    assert resize[0].scale == (-1, 224)
    if m['data'].startswith('kinetics'):
        assert _sampler(test).num_clips == 4 and crop[0].type == 'CenterCrop'
    elif m['segments']:
        assert _sampler(test).num_clips == 1 and crop[0].type == 'ThreeCrop'
    else:
        assert _sampler(test).num_clips == 5 and crop[0].type == 'ThreeCrop'
    # official AUG.AA_TYPE, right after decoding
    # SSv2's WebM files record no frame count: CheckedPyAVInit counts them
    decoder = {
        'sthv1': 'CheckedRawFrameDecode',
        'sthv2': 'CheckedPyAVDecode'
    }.get(m['data'], 'CheckedPyAVDecode')
    augment = [t for t in train if 'RandAugment' in t['type']]
    assert augment == [
        dict(
            type='ClipRandAugment',
            policy=('rand-m5-n2-mstd0.25'
                    if m['split'] else 'rand-m7-n4-mstd0.5-inc1'))
    ]
    assert types.index('ClipRandAugment') == types.index(decoder) + 1
    # SSv labels name directions: the official runs never flip
    assert ('Flip' in types) == (not m['segments'])
    assert decoder in types and decoder in [t['type'] for t in test]


def _model_video(config, cfg, model):
    m = _parse_video(config)
    assert type(model.backbone).__name__ == 'UniFormer3D'
    with_k400_head = (_params(model) - _params(model.cls_head) + 512 * 400 +
                      400) / 1e6
    paper = PAPER_PARAMS_VIDEO[m['arch']]
    assert abs(with_k400_head - paper) <= PARAM_TOLERANCE * paper, (
        f'{config}: {with_k400_head:.2f}M parameters with a K400 head, the '
        f'paper says {paper}M')


def _meta_video(model):
    m = _parse_video(model['Config'])
    assert model['Metadata']['Parameters'] == int(
        PAPER_PARAMS_VIDEO[m['arch']] * 10**6)
    assert model['Metadata']['FLOPs'] > 0
    if m['split'] in ('2', '3'):
        # no official run (the official repository trained and released
        # split 1 only): split 1's metadata, and no result or weights
        split1 = model['Config'].replace(f'-split{m["split"]}-', '-split1-')
        (first, ) = [
            e for e in metafile_models('configs/video/metafile.yml')
            if e['Config'] == split1
        ]
        assert 'Results' not in model and 'Weights' not in model
        assert model['Metadata'] == first['Metadata']
        assert model['In Collection'] == first['In Collection']
        return
    top1 = model['Results'][0]['Metrics']['Top 1 Accuracy']
    assert 50 < top1 < 100


# ------------------------------------------- light video (Kinetics-400)
NAME_LIGHT_VIDEO = re.compile(
    r'^uniformer-(?P<arch>xx?s)-res(?P<size>\d+)_imagenet1k-pre_8xb'
    r'(?P<batch>\d+)-u(?P<frames>\d+)-110e_kinetics400-rgb\.py$')
# official exp_light/uniformer_<arch><frames>_<size>_k400 run.sh + yaml:
# (layer scale, lr, weight decay, drop path, RandAugment AA_TYPE)
RECIPES_LIGHT_VIDEO = {
    ('xxs', 4, 128): (True, 4e-4, 0.1, 0.05, 'rand'),
    ('xxs', 4, 160): (True, 4e-4, 0.1, 0.05, 'rand'),
    ('xxs', 8, 128): (True, 4e-4, 0.1, 0.05, 'rand'),
    ('xxs', 8, 160): (False, 4e-4, 0.1, 0.05, 'rand-m5-n2-mstd0.25'),
    ('xxs', 16, 128): (False, 8e-4, 0.1, 0.05, 'rand-m5-n2-mstd0.25'),
    ('xxs', 16, 160): (False, 8e-4, 0.1, 0.05, 'rand-m5-n2-mstd0.25'),
    ('xxs', 32, 160): (False, 8e-4, 0.1, 0.05, 'rand-m5-n2-mstd0.25'),
    ('xs', 32, 192): (False, 4e-4, 0.05, 0.1, 'rand-m7-n4-mstd0.5-inc1'),
}


def _parse_light_video(path):
    name = Path(path).name
    m = NAME_LIGHT_VIDEO.match(name)
    assert m, f'{name}: not uniformer-<xxs|xs>-res<px>_..._u<frames>_...'
    return m, (m['arch'], int(m['frames']), int(m['size']))


def _light_video_official_params(official_keys, arch, layer_scale):
    """Parameters of the official SlowFast model (the ImageNet classifier's
    tensors, convolutions inflated, 400-class heads, plus layer scale)."""
    from uniformer_mm.models import UniFormerLight3D
    shapes = dict(official_keys[f'cls_light_{arch}'])
    ours = UniFormerLight3D(arch + ('-ls' if layer_scale else ''))
    dim = ours.embed_dims[-1]
    for key in ('head', 'head_cls'):
        shapes[f'{key}.weight'], shapes[f'{key}.bias'] = [400, dim], [400]
    for key, tensor in ours.state_dict().items():
        if key in shapes and len(tensor.shape) == 5:
            shapes[key] = list(tensor.shape)  # inflated, checked elsewhere
        elif '.gamma_' in key:
            shapes[key] = list(tensor.shape)
    return sum(
        math.prod(s) for k, s in shapes.items()
        if not k.endswith(('running_mean', 'running_var',
                           'num_batches_tracked')))


def _recipe_light_video(config, cfg):
    m, key = _parse_light_video(config)
    arch, frames, size = key
    layer_scale, lr, wd, drop_path, policy = RECIPES_LIGHT_VIDEO[key]
    backbone = cfg.model.backbone
    assert backbone.type == 'UniFormerLight3D'
    assert backbone.arch == arch + ('-ls' if layer_scale else '')
    assert backbone.get('layer_scale_init_value') == (0.1
                                                      if layer_scale else None)
    assert backbone.drop_path_rate == drop_path
    assert backbone.with_cp == [0, 0, 4, 0]
    pretrain = 192 if arch == 'xs' else (128 if size == 128 else 160)
    assert backbone.init_cfg.checkpoint == (
        f'checkpoints/uniformer_{arch}_{pretrain}_in1k.pth')
    assert cfg.model.cls_head.in_channels == (448 if arch == 'xxs' else 512)
    # both official classifiers (train_net_cls.py)
    assert cfg.model.cls_head.type == 'UniFormerLightHead'
    assert backbone.out_cls_token is True
    assert cfg.train_dataloader.batch_size == int(m['batch'])
    assert cfg.auto_scale_lr.base_batch_size == 8 * int(m['batch'])
    assert cfg.optim_wrapper.optimizer.lr == lr
    assert cfg.optim_wrapper.optimizer.weight_decay == wd
    warmup = cfg.param_scheduler[0]
    assert warmup.start_factor * lr == pytest.approx(1e-6)
    # sparse sampling, one clip, one centre crop
    _assert_official_repeats(cfg.train_dataloader)
    train = cfg.train_dataloader.dataset.dataset.pipeline
    test = cfg.test_dataloader.dataset.pipeline
    assert train[1] == dict(type='UniformSample', clip_len=frames, num_clips=1)
    assert train[3] == dict(type='ClipRandAugment', policy=policy)
    assert train[5].scale == (size, size)
    for pipeline in (test, cfg.val_dataloader.dataset.pipeline):
        assert pipeline[1] == dict(
            type='UniformSample', clip_len=frames, num_clips=1, test_mode=True)
        assert pipeline[3].scale == (-1, size)
        assert pipeline[4].crop_size == size


def _model_light_video(config, cfg, model, official_keys):
    _, key = _parse_light_video(config)
    arch, layer_scale = key[0], RECIPES_LIGHT_VIDEO[key][0]
    # both classifiers and the class-token norm: the official model exactly
    dim = model.backbone.embed_dims[-1]
    assert _params(model) == (
        _light_video_official_params(official_keys, arch, layer_scale))
    with torch.no_grad():
        feats, token = model.eval().extract_feat(
            torch.randn(1, 1, 3, 4, 64, 64))[0]
    assert feats.shape[1] == dim and torch.isfinite(feats).all()
    assert token.shape == (1, dim) and torch.isfinite(token).all()


def _meta_light_video(model):
    from uniformer_mm.models import UniFormerLight3D
    _, (arch, _, _) = _parse_light_video(model['Config'])
    layer_scale = RECIPES_LIGHT_VIDEO[arch, model['Metadata']['Frames'],
                                      model['Metadata']['Resolution']][0]
    # the recognizer with its two 400-class heads and the class-token norm
    backbone = UniFormerLight3D(arch + ('-ls' if layer_scale else ''))
    dim = backbone.embed_dims[-1]
    assert model['Metadata']['Parameters'] == _params(
        backbone) + 2 * (400 * dim + 400) + 2 * dim
    assert 50 < model['Results'][0]['Metrics']['Top 1 Accuracy'] < 100


# ----------------------------------------------------------- every config
RECIPE_CHECKS = {
    'dense-2d': _recipe_dense_2d,
    'light-2d': _recipe_light_2d,
    'pose': _recipe_pose,
    'video': _recipe_video,
    'light-video': _recipe_light_video,
}
META_CHECKS = {
    'dense-2d': _meta_dense_2d,
    'light-2d': _meta_light_2d,
    'pose': _meta_pose,
    'video': _meta_video,
    'light-video': _meta_light_video,
}


def _recipe_keys(fam):
    """What each family's recipe table is keyed by, for every config of the
    family on disk."""
    configs = [c for c in ZOO if family(c) == fam]
    if fam == 'dense-2d':
        return {Path(c).stem for c in configs}, set(RECIPES_2D)
    if fam == 'light-2d':
        return set(configs), set(RECIPES_LIGHT_2D)
    if fam == 'pose':
        return {Path(c).stem for c in configs}, set(RECIPES_POSE)
    if fam == 'video':
        return {Path(c).name for c in configs}, set(RECIPES_VIDEO)
    return {_parse_light_video(c)[1]
            for c in configs}, set(RECIPES_LIGHT_VIDEO)


def test_the_zoo_is_all_there():
    counts = {
        task: sum(c.startswith(task + '/') for c in ZOO)
        for task in ZOO_COUNTS
    }
    assert counts == ZOO_COUNTS, counts


@pytest.mark.parametrize('fam', FAMILIES)
def test_zoo_is_complete(fam):
    """Each family's recipe table has exactly the configs on disk."""
    found, recipes = _recipe_keys(fam)
    assert found == recipes, (f'missing: {sorted(recipes - found)}, '
                              f'unexpected: {sorted(found - recipes)}')


@pytest.mark.parametrize('config', ZOO)
def test_config_carries_the_official_recipe(config):
    cfg = load(config)
    assert cfg.custom_imports['imports'] == IMPORTS
    assert cfg.default_scope == SCOPES[config.split('/')[0]]
    RECIPE_CHECKS[family(config)](config, cfg)


@pytest.mark.parametrize('config', ZOO)
def test_config_builds_with_paper_params(config, official_keys):
    """The model, built without weights, has the paper's size (and runs,
    for the light and pose families)."""
    cfg = load(config)
    model = build_zoo_model(cfg)
    fam = family(config)
    if fam == 'dense-2d':
        _model_dense_2d(config, cfg, model)
    elif fam == 'light-2d':
        _model_light_2d(config, cfg, model)
    elif fam == 'pose':
        _model_pose(config, cfg, model)
    elif fam == 'video':
        _model_video(config, cfg, model)
    else:
        _model_light_video(config, cfg, model, official_keys)


@pytest.mark.parametrize('config', [c for c in ZOO if family(c) == 'video'])
def test_pipelines_build(config):
    """Every transform builds, ClipRandAugment (registered by the configs'
    custom_imports) included."""
    from mmaction.registry import TRANSFORMS
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = load(config)
    # under the configs' own scope, whatever scope an earlier test left
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        for pipeline in (cfg.train_pipeline, cfg.val_pipeline,
                         cfg.test_pipeline):
            for t in pipeline:
                built = TRANSFORMS.build(copy.deepcopy(t))
                assert type(built) is TRANSFORMS.get(t['type']), t['type']


@pytest.mark.parametrize('metafile', METAFILES)
def test_metafile_lists_every_config(metafile):
    """Each metafile lists exactly the zoo configs of its folder, with each
    family's numbers."""
    models = metafile_models(metafile)
    folder = Path(metafile).parent.relative_to('configs').as_posix()
    on_disk = {c for c in ZOO if Path(c).parent.as_posix() == folder}
    assert {m['Config'][len('configs/'):] for m in models} == on_disk
    for model in models:
        META_CHECKS[family(model['Config'][len('configs/'):])](model)


def test_model_index_imports_every_metafile():
    with open(ROOT / 'model-index.yml') as f:
        index = yaml.safe_load(f)
    assert index['Import'][:2] == list(METAFILES[:2])
    assert set(METAFILES) <= set(index['Import'])


# ------------------------------------ video: pipelines on real files, forward
def _write_video(path, frames=80, size=(72, 96)):
    """A small real H.264/MPEG-4 file whose frame index is readable back
    from its pixels (brightness = 3 * index)."""
    import av
    height, width = size
    with av.open(str(path), 'w') as container:
        stream = container.add_stream('mpeg4', rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
        for i in range(frames):
            image = np.full((height, width, 3), 3 * i, np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format='rgb24')
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _dataset(cfg, split, tmp_path, pipeline=None):
    from mmaction.registry import DATASETS
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    wrapper = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
    # the training set is wrapped by RepeatAugVideoDataset
    dataset = wrapper.get('dataset', wrapper)
    if pipeline is not None:
        dataset.pipeline = pipeline
    if dataset.type == 'RawframeDataset':
        frames = tmp_path / 'rawframes' / 'clip0'
        frames.mkdir(parents=True)
        import cv2
        for i in range(1, 81):
            cv2.imwrite(
                str(frames / f'{i:05d}.jpg'),
                np.full((72, 96, 3), 3 * i, np.uint8))
        (tmp_path / 'list.txt').write_text('clip0 80 3\n')
        dataset.data_prefix = dict(img=str(tmp_path / 'rawframes'))
    else:
        _write_video(tmp_path / 'clip0.mp4')
        (tmp_path / 'list.txt').write_text('clip0.mp4 3\n')
        dataset.data_prefix = dict(video=str(tmp_path))
    dataset.ann_file = str(tmp_path / 'list.txt')
    with DefaultScope.overwrite_default_scope('mmaction'):
        return DATASETS.build(wrapper)


def _assert_official_repeats(loader):
    """Every official video run sets AUG.NUM_SAMPLE 2 (config.yaml) and
    drops the last incomplete batch (loader.py, drop_last=True)."""
    assert loader.dataset.type == 'RepeatAugVideoDataset'
    assert loader.dataset.num_repeats == 2
    assert loader.collate_fn == dict(type='repeat_pseudo_collate')
    assert loader.drop_last is True


K400_16X4 = ('video/uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_kinetics400-'
             'rgb.py')


@pytest.mark.parametrize('config,views', [
    (K400_16X4, 4),
    ('video/uniformer-s_k400-pre_8xb4-u16-50e_sthv2-rgb.py', 3),
    ('video/uniformer-s_k400-pre_8xb4-u16-60e_sthv1-rgb.py', 3),
])
def test_test_views_decoded_from_real_files(config, views, tmp_path):
    """The configs' own test pipelines on a real file: PyAV for videos,
    JPEG frames for SSv1; official views (4 clips / 3 crops) of 16 frames."""
    item = _dataset(load(config), 'test', tmp_path)[0]
    assert item['inputs'].shape == (views, 3, 16, 224, 224)
    assert item['inputs'].dtype == torch.uint8
    assert int(item['data_samples'].gt_label) == 3
    # frames come from the file in time order (brightness = 3 * index)
    clip = item['inputs'][0].float().mean(dim=(0, 2, 3))
    assert (clip[1:] >= clip[:-1] - 1).all() and clip[-1] > clip[0] + 8


def test_train_pipeline_decodes_and_augments(tmp_path):
    items = _dataset(load(K400_16X4), 'train', tmp_path)[0]
    # two augmentations of one decoded clip (official AUG.NUM_SAMPLE 2)
    assert [item['inputs'].shape
            for item in items] == [(1, 3, 16, 224, 224)] * 2


def test_forward_on_a_tiny_random_clip():
    """One S recognizer of the zoo, data preprocessor included, on a tiny
    random clip: one score per class, the clips' logits averaged (the
    official test sums them: same ranking)."""
    from mmaction.structures import ActionDataSample
    model = build_zoo_model(load(K400_16X4)).eval()
    torch.set_num_threads(1)
    video = torch.randint(0, 256, (2, 3, 8, 64, 64), dtype=torch.uint8)
    sample = ActionDataSample().set_gt_label(5)
    with torch.no_grad():
        out = model.test_step(dict(inputs=[video], data_samples=[sample]))
    assert len(out) == 1 and out[0].pred_score.shape == (400, )
    with torch.no_grad():
        inputs = model.data_preprocessor(
            dict(inputs=[video], data_samples=[sample]))['inputs']
        feats, _ = model.extract_feat(inputs, test_mode=True)
        logits = model.cls_head(feats)  # one row per clip
    assert logits.shape == (2, 400)
    torch.testing.assert_close(out[0].pred_score, logits.mean(0))
