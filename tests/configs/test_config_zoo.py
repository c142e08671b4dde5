"""The COCO / ADE20K model zoo: configs/detection, configs/segmentation.

Every config (the demo/ and _base_/ folders aside) must load, build its model
without weights, carry the official recipe's backbone settings and have the
paper's parameter count; the metafiles must list exactly these configs.
"""
import re
from pathlib import Path

import pytest
import yaml
from mmengine.config import Config
from mmengine.registry import DefaultScope

ROOT = Path(__file__).resolve().parents[2]
ZOO_DIRS = ('configs/detection', 'configs/segmentation')
SKIP_DIRS = {'demo', '_base_', 'custom'}  # custom/: fine-tuning templates
# the hourglass XXS / XS configs: tests/configs/test_light_configs.py checks
# them
LIGHT = re.compile(r'_uniformer-xx?s_')


def _zoo_configs():
    found = []
    for zoo in ZOO_DIRS:
        for path in sorted((ROOT / zoo).rglob('*.py')):
            rel = path.relative_to(ROOT)
            if not SKIP_DIRS & set(rel.parts[2:-1]) and not LIGHT.search(
                    rel.name):
                found.append(rel.as_posix())
    return found


CONFIGS = _zoo_configs()

# Parameters in millions as the paper / official READMEs give them.
PAPER_PARAMS = {
    ('mask-rcnn', 's'): 41,
    ('mask-rcnn', 'b'): 69,
    ('cascade-mask-rcnn', 's'): 79,
    ('cascade-mask-rcnn', 'b'): 107,
    ('fpn', 's'): 25,
    ('fpn', 'b'): 54,
    ('upernet', 's'): 52,
    ('upernet', 'b'): 80,
}
PARAM_TOLERANCE = 0.015

# Official drop path rates and checkpoint_num (exp/*/config.py upstream).
RECIPES = {
    'mask-rcnn_uniformer-s-h14_fpn_1x_coco': (0.2, [0, 0, 8, 0]),
    'mask-rcnn_uniformer-s-h14_fpn_ms-3x_coco': (0.1, [0, 0, 8, 0]),
    'mask-rcnn_uniformer-b-h14_fpn_1x_coco': (0.3, False),
    'mask-rcnn_uniformer-b-h14_fpn_ms-3x_coco': (0.3, [0, 0, 20, 0]),
    'cascade-mask-rcnn_uniformer-s-h14_fpn_ms-3x_coco': (0.2, [0, 0, 8, 0]),
    'cascade-mask-rcnn_uniformer-b-h14_fpn_ms-3x_coco': (0.4, [0, 0, 20, 0]),
}
for _s in ('-h14', '-w32', '-h32', ''):
    RECIPES[f'fpn_uniformer-s{_s}_8xb4-80k_ade20k-512x512'] = (0.1, False)
    RECIPES[f'fpn_uniformer-b{_s}_8xb4-80k_ade20k-512x512'] = (0.2, False)
    RECIPES[f'upernet_uniformer-s{_s}_8xb2-160k_ade20k-512x512'] = (0.25,
                                                                    False)
    RECIPES[f'upernet_uniformer-b{_s}_8xb2-160k_ade20k-512x512'] = (0.4, [
        0, 0, 2, 0
    ])

NAME = re.compile(r'^(?P<head>cascade-mask-rcnn|mask-rcnn|fpn|upernet)'
                  r'_uniformer-(?P<arch>[sb])'
                  r'(?:-(?P<attn>[hw])(?P<win>\d+))?_')


def _parse(path):
    match = NAME.match(Path(path).stem)
    assert match, (f'{path}: name does not follow '
                   '<head>_uniformer-<s|b>[-hN|-wN]_')
    attn = {None: 'global', 'h': 'hybrid', 'w': 'window'}[match['attn']]
    return match['head'], match['arch'], attn, match['win']


def _build(cfg):
    if cfg.default_scope == 'mmdet':
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
    else:
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    # as a Runner of that codebase builds it (init_default_scope), restored
    # afterwards so that the other tests see the scope they had
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(cfg.model)


def test_zoo_is_complete():
    names = {Path(p).stem for p in CONFIGS}
    assert names == set(RECIPES), (
        f'missing: {sorted(set(RECIPES) - names)}, '
        f'unexpected: {sorted(names - set(RECIPES))}')


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds_with_paper_params(path):
    head, arch, attn_mode, window = _parse(path)
    cfg = Config.fromfile(str(ROOT / path))
    assert cfg.custom_imports['imports'] == [
        'uniformer_mm', 'uniformer_mm.engine.safe_loading'
    ]
    assert cfg.default_scope == ('mmdet'
                                 if path.startswith(ZOO_DIRS[0]) else 'mmseg')

    backbone = cfg.model.backbone
    assert backbone.type == 'UniFormer'
    assert backbone.arch == {'s': 'small', 'b': 'base'}[arch]
    assert backbone.attn_mode == attn_mode
    if window is not None:
        assert backbone.window_size == int(window)
    dpr, with_cp = RECIPES[Path(path).stem]
    assert backbone.drop_path_rate == dpr
    assert backbone.get('with_cp', False) == with_cp
    assert backbone.init_cfg == dict(
        type='Pretrained',
        checkpoint='checkpoints/uniformer_{}_in1k.pth'.format(backbone.arch))

    cfg.model.backbone.init_cfg = None  # build without loading weights
    model = _build(cfg)
    assert type(model.backbone).__name__ == 'UniFormer'
    assert model.backbone.attn_mode == attn_mode
    params = sum(p.numel() for p in model.parameters()) / 1e6
    paper = PAPER_PARAMS[head, arch]
    assert abs(params - paper) <= PARAM_TOLERANCE * paper, (
        f'{path}: {params:.2f}M parameters, the paper says {paper}M')


def _metafile_models(zoo):
    with open(ROOT / zoo / 'metafile.yml') as f:
        meta = yaml.safe_load(f)
    collections = {c['Name'] for c in meta['Collections']}
    for model in meta['Models']:
        assert model['In Collection'] in collections, model['Name']
        assert model['Name'] == Path(model['Config']).stem
    return meta['Models']


@pytest.mark.parametrize('zoo', ZOO_DIRS)
def test_metafile_lists_every_config(zoo):
    models = [
        m for m in _metafile_models(zoo) if not LIGHT.search(m['Config'])
    ]
    listed = [m['Config'] for m in models]
    assert len(listed) == len(set(listed))
    for config in listed:
        assert (ROOT / config).is_file(), f'{config} in metafile, not on disk'
    on_disk = {p for p in CONFIGS if p.startswith(zoo)}
    assert set(listed) == on_disk
    for model in models:
        assert model['Results'], model['Name']
        head, arch, _, _ = _parse(model['Config'])
        meta = model['Metadata']
        assert meta['Parameters'] == PAPER_PARAMS[head, arch] * 10**6
        assert meta['FLOPs'] > 0 and meta['Training Data']


def test_model_index_imports_both_metafiles():
    with open(ROOT / 'model-index.yml') as f:
        index = yaml.safe_load(f)
    # other zoos (configs/pose, ...) are listed too; their tests check them
    assert index['Import'][:len(ZOO_DIRS)] == [
        f'{zoo}/metafile.yml' for zoo in ZOO_DIRS
    ]
