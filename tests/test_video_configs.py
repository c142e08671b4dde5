"""The video model zoo: configs/video (Kinetics, Something-Something,
UCF/HMDB).

Every config must load, build its recognizer without weights, carry the
official run's recipe (exp/*/config.yaml + run.sh upstream) and the paper's
parameter count; its pipelines must build, decode real video files with
PyAV (frames for SSv1) into the official test views; the metafile must list
exactly these configs.
"""
import copy
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from mmengine.config import Config
from mmengine.registry import DefaultScope

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / 'configs/video'
CONFIGS = sorted(p.name for p in ZOO.glob('*.py'))

NAME = re.compile(r'^uniformer-(?P<arch>[sb])_(?P<pre>imagenet1k|k400|k600)'
                  r'-pre_(?P<gpus>\d+)xb(?P<batch>\d+)-'
                  r'(?:(?P<clip>\d+)x(?P<interval>\d+)x1|u(?P<segments>\d+))-'
                  r'(?P<epochs>\d+)e_(?P<data>kinetics400|kinetics600|sthv1|'
                  r'sthv2|ucf101-split1|hmdb51-split1)-rgb\.py$')

# Official run.sh settings: (drop path, lr) per config; the batch, epochs,
# clip and GPUs are in the name (checked against the config below).
RECIPES = {
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
    'uniformer-s_k400-pre_8xb16-16x4x1-25e_ucf101-split1-rgb.py': (0.2, 5e-5),
    'uniformer-s_k400-pre_8xb16-16x4x1-25e_hmdb51-split1-rgb.py': (0.2, 5e-5),
}
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
        RECIPES[f'uniformer-{_a}_{_pre}-pre_8xb{_bs}-u{_f}-{_ep}e_{_data}'
                '-rgb.py'] = (_d, 2.5e-4 if _bs == 5 else 2e-4)

# Parameters (millions) with a 400-class head: UniFormer-S 21.4M and
# UniFormer-B 49.8M (paper, Table 1 of the ICLR version).
PAPER_PARAMS = {'s': 21.4, 'b': 49.8}
PARAM_TOLERANCE = 0.015
CLASSES = {
    'kinetics400': 400,
    'kinetics600': 600,
    'sthv1': 174,
    'sthv2': 174,
    'ucf101-split1': 101,
    'hmdb51-split1': 51
}


def _parse(name):
    match = NAME.match(name)
    assert match, f'{name}: name does not follow the scheme of the README'
    return match


def _build(model_cfg):
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    model_cfg = copy.deepcopy(model_cfg)
    model_cfg.backbone.init_cfg = None  # no weights offline
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmaction'):
        return MODELS.build(model_cfg)


def _sampler(pipeline):
    found = [
        t for t in pipeline if t['type'] in ('SampleFrames', 'UniformSample')
    ]
    assert len(found) == 1
    return found[0]


def test_zoo_is_complete():
    assert set(CONFIGS) == set(RECIPES), (
        f'missing: {sorted(set(RECIPES) - set(CONFIGS))}, '
        f'unexpected: {sorted(set(CONFIGS) - set(RECIPES))}')


@pytest.mark.parametrize('name', CONFIGS)
def test_config_carries_the_official_recipe(name):
    m = _parse(name)
    cfg = Config.fromfile(str(ZOO / name))
    assert cfg.custom_imports['imports'] == [
        'uniformer_mm', 'uniformer_mm.engine.safe_loading'
    ]
    assert cfg.default_scope == 'mmaction'
    backbone, head = cfg.model.backbone, cfg.model.cls_head
    assert backbone.type == 'UniFormer3D'
    assert backbone.arch == {'s': 'small', 'b': 'base'}[m['arch']]
    dpr, lr = RECIPES[name]
    assert backbone.drop_path_rate == dpr
    assert backbone.with_cp is False  # no official run checkpointed
    arch = backbone.arch
    pretrained = (f'uniformer_{arch}_in1k' if m['pre'] == 'imagenet1k' else
                  f'uniformer_{arch}_{m["pre"]}_16x4')
    if m['data'] in ('ucf101-split1', 'hmdb51-split1'):
        pretrained = 'uniformer_small_k400_16x4'
    assert backbone.init_cfg == dict(
        type='Pretrained', checkpoint=f'checkpoints/{pretrained}.pth')

    classes = CLASSES[m['data']]
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
    train = cfg.train_dataloader.dataset.pipeline
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
            assert sampler.type == 'SampleFrames'
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
        'sthv1': 'RawFrameDecode',
        'sthv2': 'CheckedPyAVDecode'
    }.get(m['data'], 'PyAVDecode')
    augment = [t for t in train if 'RandAugment' in t['type']]
    assert augment == [
        dict(
            type='ClipRandAugment',
            policy=('rand-m5-n2-mstd0.25' if m['data'].endswith('-split1') else
                    'rand-m7-n4-mstd0.5-inc1'))
    ]
    assert types.index('ClipRandAugment') == types.index(decoder) + 1
    # SSv labels name directions: the official runs never flip
    assert ('Flip' in types) == (not m['segments'])
    assert decoder in types and decoder in [t['type'] for t in test]


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_with_paper_params(name):
    m = _parse(name)
    cfg = Config.fromfile(str(ZOO / name))
    model = _build(cfg.model)
    assert type(model.backbone).__name__ == 'UniFormer3D'
    params = sum(p.numel() for p in model.parameters())
    head = sum(p.numel() for p in model.cls_head.parameters())
    with_k400_head = (params - head + 512 * 400 + 400) / 1e6
    paper = PAPER_PARAMS[m['arch']]
    assert abs(with_k400_head - paper) <= PARAM_TOLERANCE * paper, (
        f'{name}: {with_k400_head:.2f}M parameters with a K400 head, the '
        f'paper says {paper}M')


@pytest.mark.parametrize('name', CONFIGS)
def test_pipelines_build(name):
    """Every transform builds, ClipRandAugment (registered by the configs'
    custom_imports) included."""
    from mmaction.registry import TRANSFORMS
    from mmaction.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(str(ZOO / name))
    # under the configs' own scope, whatever scope an earlier test left
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        for pipeline in (cfg.train_pipeline, cfg.val_pipeline,
                         cfg.test_pipeline):
            for t in pipeline:
                TRANSFORMS.build(copy.deepcopy(t))


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
    dataset = copy.deepcopy(cfg[f'{split}_dataloader'].dataset)
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
        return DATASETS.build(dataset)


@pytest.mark.parametrize('name,views', [
    ('uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_kinetics400-rgb.py', 4),
    ('uniformer-s_k400-pre_8xb4-u16-50e_sthv2-rgb.py', 3),
    ('uniformer-s_k400-pre_8xb4-u16-60e_sthv1-rgb.py', 3),
])
def test_test_views_decoded_from_real_files(name, views, tmp_path):
    """The configs' own test pipelines on a real file: PyAV for videos,
    JPEG frames for SSv1; official views (4 clips / 3 crops) of 16 frames."""
    cfg = Config.fromfile(str(ZOO / name))
    item = _dataset(cfg, 'test', tmp_path)[0]
    assert item['inputs'].shape == (views, 3, 16, 224, 224)
    assert item['inputs'].dtype == torch.uint8
    assert int(item['data_samples'].gt_label) == 3
    # frames come from the file in time order (brightness = 3 * index)
    clip = item['inputs'][0].float().mean(dim=(0, 2, 3))
    assert (clip[1:] >= clip[:-1] - 1).all() and clip[-1] > clip[0] + 8


def test_train_pipeline_decodes_and_augments(tmp_path):
    cfg = Config.fromfile(
        str(ZOO /
            'uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_kinetics400-rgb.py'))
    item = _dataset(cfg, 'train', tmp_path)[0]
    assert item['inputs'].shape == (1, 3, 16, 224, 224)


def test_forward_on_a_tiny_random_clip():
    """One S recognizer of the zoo, data preprocessor included, on a tiny
    random clip: one score per class, averaged over the clips."""
    from mmaction.structures import ActionDataSample
    cfg = Config.fromfile(
        str(ZOO /
            'uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_kinetics400-rgb.py'))
    model = _build(cfg.model).eval()
    torch.set_num_threads(1)
    video = torch.randint(0, 256, (2, 3, 8, 64, 64), dtype=torch.uint8)
    sample = ActionDataSample().set_gt_label(5)
    with torch.no_grad():
        out = model.test_step(dict(inputs=[video], data_samples=[sample]))
    assert len(out) == 1 and out[0].pred_score.shape == (400, )
    torch.testing.assert_close(out[0].pred_score.sum(), torch.tensor(1.))


def test_metafile_lists_every_config():
    with open(ZOO / 'metafile.yml') as f:
        meta = yaml.safe_load(f)
    collections = {c['Name'] for c in meta['Collections']}
    listed = []
    for model in meta['Models']:
        assert model['In Collection'] in collections, model['Name']
        assert model['Name'] == Path(model['Config']).stem
        assert (ROOT / model['Config']).is_file(), model['Config']
        m = _parse(Path(model['Config']).name)
        assert model['Metadata']['Parameters'] == int(PAPER_PARAMS[m['arch']] *
                                                      10**6)
        assert model['Metadata']['FLOPs'] > 0
        top1 = model['Results'][0]['Metrics']['Top 1 Accuracy']
        assert 50 < top1 < 100
        listed.append(Path(model['Config']).name)
    assert sorted(listed) == CONFIGS


def test_model_index_imports_the_video_metafile():
    with open(ROOT / 'model-index.yml') as f:
        index = yaml.safe_load(f)
    assert 'configs/video/metafile.yml' in index['Import']
