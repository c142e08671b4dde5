"""Hourglass UniFormer (XXS / XS) checkpoints: the official ImageNet,
MMDetection and SlowFast layouts load into the 2D and 3D backbones, and
files of the other family are refused (moved from
tests/models/test_uniformer_light.py)."""
import argparse

import pytest
import torch
from conftest import randomize_

from uniformer_mm.checkpoints.backbone import (head_dim_from_metadata,
                                               load_pretrained)
from uniformer_mm.models import UniFormerLight, UniFormerLight3D

CLASSIFIER = ('head.', 'head_cls.', 'norm_cls.', 'norm.')
OUTPUT_NORMS = ('norm1.', 'norm2.', 'norm3.', 'norm4.')
BUFFERS = ('running_mean', 'running_var', 'num_batches_tracked')


def _shapes(model):
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def _synthetic(shapes):
    return {
        k: torch.randn(s) if s else torch.tensor(7)
        for k, s in shapes.items()
    }


@pytest.mark.parametrize('preset', ['xxs', 'xs'])
def test_official_imagenet_file_loads_into_2d_and_3d(tmp_path, preset,
                                                     official_keys):
    weights = _synthetic(official_keys[f'cls_light_{preset}'])
    ckpt = {
        'model': weights,
        'epoch': 599,
        'args':
        argparse.Namespace(model=f'uniformer_{preset}', input_size=128)
    }
    torch.save(ckpt, tmp_path / 'in1k.pth')
    model = UniFormerLight(
        preset,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(tmp_path / 'in1k.pth')))
    model.init_weights()
    for k, v in model.state_dict().items():
        if not k.startswith(OUTPUT_NORMS):
            torch.testing.assert_close(v, weights[k], msg=k)
    video = UniFormerLight3D(preset)
    stats = load_pretrained(video, str(tmp_path / 'in1k.pth'))
    assert stats['skipped'] == 6  # head, head_cls, norm_cls
    stem = video.patch_embed1.proj[0].weight  # averaged over 3 steps
    torch.testing.assert_close(
        stem.sum(2), weights['patch_embed1.proj.0.weight'])


def test_imagenet_file_into_layer_scale_video_model(tmp_path, official_keys):
    """As the official xxs-ls Kinetics runs: the residual scales, absent
    from the image file, start at layer_scale_init_value."""
    weights = _synthetic(official_keys['cls_light_xxs'])
    torch.save({'model': weights}, tmp_path / 'in1k.pth')
    video = UniFormerLight3D('xxs-ls', layer_scale_init_value=0.1)
    stats = load_pretrained(video, str(tmp_path / 'in1k.pth'))
    gammas = [p for n, p in video.named_parameters() if '.gamma_' in n]
    assert stats['layer_scales_at_init'] == len(gammas) == 2 * 17
    assert all(torch.equal(g, torch.full_like(g, 0.1)) for g in gammas)
    # a video file without layer scale is no such case: refused
    plain = UniFormerLight3D('xxs')
    torch.save(plain.state_dict(), tmp_path / 'k400_plain.pth')
    with pytest.raises(ValueError, match='gamma_1'):
        load_pretrained(
            UniFormerLight3D('xxs-ls'), str(tmp_path / 'k400_plain.pth'))


def test_head_dim_from_official_light_names():
    for name, head_dim in (('uniformer_xxs', 28), ('uniformer_xs', 32)):
        ckpt = {'model': {}, 'args': argparse.Namespace(model=name)}
        assert head_dim_from_metadata(ckpt) == (head_dim,
                                                f'args.model={name!r}')


@pytest.mark.parametrize('preset', ['xxs', 'xs'])
def test_official_mmdet_file_loads(tmp_path, preset, official_keys):
    weights = _synthetic(official_keys[f'light_dense_{preset}'])
    state = {f'backbone.{k}': v for k, v in weights.items()}
    state['neck.lateral_convs.0.conv.weight'] = torch.rand(256, 56, 1, 1)
    head_dim = 28 if preset == 'xxs' else 32
    config = f"model = dict(backbone=dict(head_dim={head_dim}))"
    torch.save({
        'state_dict': state,
        'meta': {
            'config': config
        }
    }, tmp_path / 'mask_rcnn.pth')
    model = UniFormerLight(preset)
    stats = load_pretrained(model, str(tmp_path / 'mask_rcnn.pth'))
    assert stats['skipped'] == 0
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, weights[k], msg=k)


def test_official_slowfast_file_loads(tmp_path):
    source = randomize_(UniFormerLight3D('xxs-ls'))
    state = dict(source.state_dict())
    state.update({
        'head.weight': torch.rand(400, 448),
        'head.bias': torch.rand(400),
        'head_cls.weight': torch.rand(400, 448),
        'head_cls.bias': torch.rand(400),
        'norm_cls.weight': torch.rand(448),
        'norm_cls.bias': torch.rand(448)
    })
    torch.save({
        'model_state': state,
        'cfg': 'UNIFORMER:\n  HEAD_DIM: 28\n'
    }, tmp_path / 'k400.pyth')
    model = UniFormerLight3D('xxs-ls')
    assert load_pretrained(model, str(tmp_path / 'k400.pyth'))['skipped'] == 6
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, source.state_dict()[k], msg=k)
    with pytest.raises(ValueError, match='gamma_1'):  # file has layer scale
        load_pretrained(UniFormerLight3D('xxs'), str(tmp_path / 'k400.pyth'))


def test_family_checkpoint_is_refused_with_the_missing_keys(tmp_path):
    from uniformer_mm import UniFormer
    plain = UniFormer('test')
    torch.save(plain.state_dict(), tmp_path / 'plain.pth')
    with pytest.raises(ValueError, match='cls_token'):
        load_pretrained(UniFormerLight('test'), str(tmp_path / 'plain.pth'))


# -------------------------------------------------------------------- errors
