"""The hourglass UniFormer-XXS / XS configs (COCO Mask R-CNN, ADE20K Semantic
FPN): each loads, carries the official exp_light backbone settings, builds
with the paper's parameter count and runs; the metafiles list them."""
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
    assert cfg.custom_imports['imports'] == ['uniformer_mm']
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
    assert {m['Config'] for m in light} == {
        p for p in CONFIGS if p.startswith(zoo)}
    for model in light:
        assert model['In Collection'] in collections
        assert model['Name'] == Path(model['Config']).stem
        paper = CONFIGS[model['Config']][0]
        assert model['Metadata']['Parameters'] == round(paper * 1e6)
        assert model['Results'] and model['Weights'].startswith('https://')
