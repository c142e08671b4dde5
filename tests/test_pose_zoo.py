"""The COCO keypoint model zoo: configs/pose.

Every config must load, carry the official recipe (exp/top_down_*/config.py
upstream: backbone, drop path, lr, batch, crop size, heatmap sigma, flip
test), build its model without weights and predict heatmaps of 1/4 of the
input size for the 17 COCO keypoints; the metafile must list exactly these
configs with the paper's numbers.
"""
import re
from pathlib import Path

import pytest
import torch
import yaml
from mmengine.config import Config
from mmengine.registry import DefaultScope

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / 'configs' / 'pose'
CONFIGS = sorted(p.relative_to(ROOT).as_posix() for p in ZOO.glob('*.py'))

# name -> (drop path, lr, images per GPU, heatmap sigma): the
# official exp/top_down_<H>x<W>_global_<arch>/config.py
RECIPES = {
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
NAME = re.compile(r'^td-hm_uniformer-(?P<arch>[sb])_8xb(?P<batch>\d+)-210e_'
                  r'coco-(?P<h>\d+)x(?P<w>\d+)$')


def _parse(path):
    match = NAME.match(Path(path).stem)
    assert match, f'{path}: not td-hm_uniformer-<s|b>_8xb<N>-210e_coco-HxW'
    return (match['arch'], int(match['batch']), int(match['h']),
            int(match['w']))


def _build(cfg):
    from mmpose.registry import MODELS
    from mmpose.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(cfg.model)


def test_zoo_is_complete():
    assert {Path(p).stem for p in CONFIGS} == set(RECIPES)


def _affine_sizes(pipeline):
    return [t['input_size'] for t in pipeline if t['type'] == 'TopdownAffine']


@pytest.mark.parametrize('path', CONFIGS)
def test_config_recipe(path):
    arch, batch, h, w = _parse(path)
    dpr, lr, per_gpu, sigma = RECIPES[Path(path).stem]
    cfg = Config.fromfile(str(ROOT / path))
    assert cfg.custom_imports['imports'] == [
        'uniformer_mm', 'uniformer_mm.engine.safe_loading'
    ]
    assert cfg.default_scope == 'mmpose'

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


@pytest.mark.parametrize('path', CONFIGS)
def test_config_builds_and_predicts_heatmaps(path):
    """The model built from the config maps an (H, W) crop to 17 heatmaps
    of (H/4, W/4) and has the backbone of the paper."""
    arch, _, h, w = _parse(path)
    cfg = Config.fromfile(str(ROOT / path))
    cfg.model.backbone.init_cfg = None  # build without loading weights
    model = _build(cfg).eval()
    assert type(model.backbone).__name__ == 'UniFormer'
    backbone_params = sum(p.numel() for p in model.backbone.parameters())
    # the dense S / B layers with one output norm (stage 4's); the official
    # pose backbone has these and three unused norms more
    assert backbone_params == {'s': 21_032_256, 'b': 49_263_552}[arch]
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


def test_metafile_lists_every_config():
    with open(ZOO / 'metafile.yml') as f:
        meta = yaml.safe_load(f)
    collections = {c['Name'] for c in meta['Collections']}
    listed = []
    for model in meta['Models']:
        assert model['In Collection'] in collections
        assert model['Name'] == Path(model['Config']).stem
        listed.append(model['Config'])
        arch, batch, h, w = _parse(model['Config'])
        (result, ) = model['Results']
        assert result['Task'] == 'Body 2D Keypoint'
        assert result['Dataset'] == 'COCO'
        assert result['Metrics']['AP'] == PAPER_AP[arch, f'{h}x{w}']
        assert model['Metadata']['Batch Size'] == 8 * batch
        assert model['Metadata']['FLOPs'] > 0
    assert sorted(listed) == CONFIGS


def test_model_index_imports_pose_metafile():
    with open(ROOT / 'model-index.yml') as f:
        index = yaml.safe_load(f)
    assert 'configs/pose/metafile.yml' in index['Import']
