"""The hourglass UniFormer-XXS / XS configs (COCO Mask R-CNN, ADE20K Semantic
FPN): each loads, carries the official exp_light backbone settings, builds
with the paper's parameter count and runs; the metafiles list them."""
import math
import re
from pathlib import Path

import pytest
import torch
import yaml
from mmengine.config import Config
from test_config_zoo import _build

ROOT = Path(__file__).resolve().parents[1]
LIGHT = re.compile(r'_uniformer-(xx?s)_')

# config -> (paper params in millions, official drop path rate, FPN widths)
CONFIGS = {
    'configs/detection/mask-rcnn_uniformer-xxs_fpn_1x_coco.py':
    (29.4, 0., [56, 112, 224, 448]),
    'configs/detection/mask-rcnn_uniformer-xs_fpn_1x_coco.py':
    (35.6, 0.15, [64, 128, 256, 512]),
    'configs/segmentation/fpn_uniformer-xxs_8xb4-80k_ade20k-512x512.py':
    (13.5, 0., [56, 112, 224, 448]),
    'configs/segmentation/fpn_uniformer-xs_8xb4-80k_ade20k-512x512.py':
    (19.7, 0.1, [64, 128, 256, 512]),
}
PARAM_TOLERANCE = 0.015


def test_every_light_config_on_disk_is_checked_here():
    on_disk = {
        p.relative_to(ROOT).as_posix()
        for zoo in ('configs/detection', 'configs/segmentation')
        for p in (ROOT / zoo).glob('*.py') if LIGHT.search(p.name)
    }
    assert on_disk == set(CONFIGS)


@pytest.mark.parametrize('path', sorted(CONFIGS))
def test_light_config_builds_with_paper_params(path):
    paper, drop_path, widths = CONFIGS[path]
    preset = LIGHT.search(path).group(1)
    cfg = Config.fromfile(str(ROOT / path))
    assert cfg.custom_imports['imports'] == [
        'uniformer_mm', 'uniformer_mm.engine.safe_loading'
    ]
    backbone = cfg.model.backbone
    assert dict(backbone) == dict(
        type='UniFormerLight',
        arch=preset,
        drop_path_rate=drop_path,
        init_cfg=dict(
            type='Pretrained',
            checkpoint=f'checkpoints/uniformer_{preset}_224_in1k.pth'))
    assert cfg.model.neck.in_channels == widths
    if path.startswith('configs/detection'):
        # the official light runs switched fp16 off
        assert cfg.optim_wrapper.type == 'OptimWrapper'
        assert cfg.optim_wrapper.optimizer.lr == 1e-4

    cfg.model.backbone.init_cfg = None  # build without loading weights
    model = _build(cfg).eval()
    assert type(model.backbone).__name__ == 'UniFormerLight'
    params = sum(p.numel() for p in model.parameters()) / 1e6
    assert abs(params - paper) <= PARAM_TOLERANCE * paper, (
        f'{path}: {params:.2f}M parameters, the paper says {paper}M')
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 64, 96))
    assert len(feats) >= 4 and all(torch.isfinite(f).all() for f in feats)


@pytest.mark.parametrize('zoo', ['configs/detection', 'configs/segmentation'])
def test_metafiles_list_the_light_configs(zoo):
    with open(ROOT / zoo / 'metafile.yml') as f:
        meta = yaml.safe_load(f)
    collections = {c['Name'] for c in meta['Collections']}
    light = [m for m in meta['Models'] if LIGHT.search(m['Config'])]
    assert {m['Config']
            for m in light} == {p
                                for p in CONFIGS if p.startswith(zoo)}
    for model in light:
        assert model['In Collection'] in collections
        assert model['Name'] == Path(model['Config']).stem
        paper = CONFIGS[model['Config']][0]
        assert model['Metadata']['Parameters'] == round(paper * 1e6)
        assert model['Results'] and model['Weights'].startswith('https://')


# ------------------------------------------------------------ Kinetics-400
VIDEO = ROOT / 'configs/video/light'
VIDEO_NAME = re.compile(
    r'^uniformer-(?P<arch>xx?s)-res(?P<size>\d+)_imagenet1k-pre_8xb'
    r'(?P<batch>\d+)-u(?P<frames>\d+)-110e_kinetics400-rgb\.py$')
# official exp_light/uniformer_<arch><frames>_<size>_k400 run.sh + yaml:
# (layer scale, lr, weight decay, drop path, RandAugment AA_TYPE)
VIDEO_RECIPES = {
    ('xxs', 4, 128): (True, 4e-4, 0.1, 0.05, 'rand'),
    ('xxs', 4, 160): (True, 4e-4, 0.1, 0.05, 'rand'),
    ('xxs', 8, 128): (True, 4e-4, 0.1, 0.05, 'rand'),
    ('xxs', 8, 160): (False, 4e-4, 0.1, 0.05, 'rand-m5-n2-mstd0.25'),
    ('xxs', 16, 128): (False, 8e-4, 0.1, 0.05, 'rand-m5-n2-mstd0.25'),
    ('xxs', 16, 160): (False, 8e-4, 0.1, 0.05, 'rand-m5-n2-mstd0.25'),
    ('xxs', 32, 160): (False, 8e-4, 0.1, 0.05, 'rand-m5-n2-mstd0.25'),
    ('xs', 32, 192): (False, 4e-4, 0.05, 0.1, 'rand-m7-n4-mstd0.5-inc1'),
}
VIDEO_CONFIGS = sorted(p.name for p in VIDEO.glob('*.py'))


def _video_official_params(official_keys, arch, layer_scale):
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


def test_video_zoo_is_complete():
    found = set()
    for name in VIDEO_CONFIGS:
        m = VIDEO_NAME.match(name)
        assert m, f'{name}: not uniformer-<xxs|xs>-res<px>_..._u<frames>_...'
        found.add((m['arch'], int(m['frames']), int(m['size'])))
    assert found == set(VIDEO_RECIPES)


@pytest.mark.parametrize('name', VIDEO_CONFIGS)
def test_video_config_recipe_and_params(name, official_keys):
    m = VIDEO_NAME.match(name)
    arch, frames, size = m['arch'], int(m['frames']), int(m['size'])
    layer_scale, lr, wd, drop_path, policy = VIDEO_RECIPES[arch, frames, size]
    cfg = Config.fromfile(str(VIDEO / name))
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
    assert cfg.train_dataloader.batch_size == int(m['batch'])
    assert cfg.auto_scale_lr.base_batch_size == 8 * int(m['batch'])
    assert cfg.optim_wrapper.optimizer.lr == lr
    assert cfg.optim_wrapper.optimizer.weight_decay == wd
    warmup = cfg.param_scheduler[0]
    assert warmup.start_factor * lr == pytest.approx(1e-6)
    # sparse sampling, one clip, one centre crop
    train = cfg.train_dataloader.dataset.pipeline
    test = cfg.test_dataloader.dataset.pipeline
    assert train[1] == dict(type='UniformSample', clip_len=frames, num_clips=1)
    assert train[3] == dict(type='ClipRandAugment', policy=policy)
    assert train[5].scale == (size, size)
    for pipeline in (test, cfg.val_dataloader.dataset.pipeline):
        assert pipeline[1] == dict(
            type='UniformSample', clip_len=frames, num_clips=1, test_mode=True)
        assert pipeline[3].scale == (-1, size)
        assert pipeline[4].crop_size == size

    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    from mmengine.registry import DefaultScope
    register_all_modules(init_default_scope=False)
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MODELS.build(cfg.model).eval()
    ours = sum(p.numel() for p in model.parameters())
    # the official model also has the class-token head and its norm
    dim = model.backbone.embed_dims[-1]
    assert ours + (400 * dim + 400) + 2 * dim == _video_official_params(
        official_keys, arch, layer_scale)
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 1, 3, 4, 64, 64))[0]
    assert feats.shape[1] == dim and torch.isfinite(feats).all()


def test_video_metafile_lists_every_light_config():
    with open(VIDEO / 'metafile.yml') as f:
        meta = yaml.safe_load(f)
    collections = {c['Name'] for c in meta['Collections']}
    listed = []
    for model in meta['Models']:
        assert model['In Collection'] in collections
        assert model['Name'] == Path(model['Config']).stem
        assert (ROOT / model['Config']).is_file(), model['Config']
        arch = VIDEO_NAME.match(Path(model['Config']).name)['arch']
        layer_scale = VIDEO_RECIPES[arch, model['Metadata']['Frames'],
                                    model['Metadata']['Resolution']][0]
        # the recognizer with its 400-class head, as built
        from uniformer_mm.models import UniFormerLight3D
        backbone = UniFormerLight3D(arch + ('-ls' if layer_scale else ''))
        dim = backbone.embed_dims[-1]
        assert model['Metadata']['Parameters'] == sum(
            p.numel() for p in backbone.parameters()) + 400 * dim + 400
        assert 50 < model['Results'][0]['Metrics']['Top 1 Accuracy'] < 100
        listed.append(Path(model['Config']).name)
    assert sorted(listed) == VIDEO_CONFIGS
    with open(ROOT / 'model-index.yml') as f:
        assert 'configs/video/light/metafile.yml' in yaml.safe_load(
            f)['Import']
