"""Loading every official checkpoint layout, built synthetically from the
official key layouts (recorded in
uniformer_mm/checkpoints/official_state_dict_keys.json.gz)."""
import argparse
import logging
import math
import random

import numpy as np
import pytest
import torch
from mmengine.logging import MMLogger

from uniformer_mm import UniFormer, UniFormer3D
from uniformer_mm.checkpoints import (CheckpointRefusedError, inflate_weight,
                                      load_checkpoint_file, load_pretrained,
                                      to_weights_only)
from uniformer_mm.models.arch import ARCH_ZOO_2D

# official model (reference JSON key) -> our preset, classification keys
OFFICIAL_2D = {
    'dense_small': 'small',
    'dense_base': 'base',
    'cls_small': 'small',
    'cls_small_plus': 'small-plus-hd32',
    'cls_small_plus_dim64': 'small-plus',
    'cls_base': 'base',
    'cls_base_ls': 'base-ls',
    'tl_small': 'small-hd32',
    'tl_small_dim64': 'small',
    'tl_small_plus': 'small-plus-hd32',
    'tl_small_plus_dim64': 'small-plus',
    'tl_base': 'base-hd32',
    'tl_base_dim64': 'base',
    'tl_large_ls': 'large-ls',
}
OFFICIAL_3D = {'video_small': 'small', 'video_base': 'base'}
CLASSIFIER_KEYS = ('head.', 'aux_head.', 'norm.')


def _n_params(shapes):
    return sum(
        math.prod(s) for k, s in shapes.items()
        if not k.endswith(('running_mean', 'running_var',
                           'num_batches_tracked')))


def _synthetic(shapes):
    """A checkpoint state dict with the official keys and shapes."""
    return {
        k: torch.randn(s) if s else torch.tensor(7)
        for k, s in shapes.items()
    }


@pytest.mark.parametrize('official, preset', sorted(OFFICIAL_2D.items()))
def test_2d_presets_have_the_official_tensors(official, preset, official_keys):
    ours = {
        k: list(v.shape)
        for k, v in UniFormer(preset).state_dict().items()
    }
    theirs = {
        k: v
        for k, v in official_keys[official].items()
        if not k.startswith(CLASSIFIER_KEYS)
    }
    output_norms = {
        k
        for k in ours if k.startswith(('norm1.', 'norm2.', 'norm3.', 'norm4.'))
    }
    assert set(ours) - output_norms == set(theirs) - output_norms
    assert all(ours[k] == theirs[k] for k in theirs)
    if official.startswith('dense'):  # all four output norms, exactly
        assert ours == theirs


@pytest.mark.parametrize('official, preset', sorted(OFFICIAL_3D.items()))
def test_3d_presets_have_the_official_tensors(official, preset, official_keys):
    ours = {
        k: list(v.shape)
        for k, v in UniFormer3D(preset).state_dict().items()
    }
    theirs = {
        k: v
        for k, v in official_keys[official].items()
        if not k.startswith('head.')
    }
    assert ours == theirs


@pytest.mark.parametrize('model, paper_millions, official', [
    (lambda: UniFormer('small'), 22, 'cls_small'),
    (lambda: UniFormer('small-plus'), 24, 'cls_small_plus_dim64'),
    (lambda: UniFormer('base'), 50, 'cls_base'),
    (lambda: UniFormer('large-ls'), 100, 'tl_large_ls'),
])
def test_param_counts_2d(model, paper_millions, official, official_keys):
    model = model()
    shapes = official_keys[official]
    # the classifier = our backbone - output norms + final BN + head(s)
    classifier_only = _n_params({
        k: s
        for k, s in shapes.items() if k.startswith(CLASSIFIER_KEYS)
    })
    output_norms = 2 * sum(model.embed_dims)
    ours = sum(p.numel() for p in model.parameters())
    assert ours - output_norms + classifier_only == _n_params(shapes)
    # the paper's figure counts the official classifier (with the token
    # labeling auxiliary head for L)
    assert round((ours - output_norms + classifier_only) / 1e6) == (
        paper_millions)


@pytest.mark.parametrize('preset, paper_millions', [('small', 21.4),
                                                    ('base', 49.8)])
def test_param_counts_3d(preset, paper_millions):
    model = UniFormer3D(preset)
    head = 512 * 400 + 400  # the Kinetics-400 classifier counted by the paper
    total = sum(p.numel() for p in model.parameters()) + head
    assert round(total / 1e6, 1) == paper_millions


# ---------------------------------------------------------------- loading


def _imagenet_checkpoint(model,
                         model_name='uniformer_small',
                         token_labeling=False):
    weights = {
        k: v.clone()
        for k, v in model.state_dict().items()
        if not k.startswith(('norm1', 'norm2', 'norm3', 'norm4'))
    }
    dim = model.embed_dims[-1]
    weights.update({
        'norm.weight': torch.rand(dim),
        'norm.bias': torch.rand(dim),
        'norm.running_mean': torch.rand(dim),
        'norm.running_var': torch.rand(dim),
        'head.weight': torch.rand(1000, dim),
        'head.bias': torch.rand(1000)
    })
    if token_labeling:
        weights['aux_head.weight'] = torch.rand(1000, dim)
        weights['aux_head.bias'] = torch.rand(1000)
    return {
        'model': weights,
        'epoch': 299,
        'args': argparse.Namespace(model=model_name, lr=1e-3, input_size=224)
    }


def _randomized(model):
    with torch.no_grad():
        for p in model.parameters():
            p.normal_()
    return model


def _assert_loaded(model, source, skip=('norm1', 'norm2', 'norm3', 'norm4')):
    for k, v in model.state_dict().items():
        if not k.startswith(skip):
            torch.testing.assert_close(v, source[k], msg=k)


def test_imagenet_layout(tmp_path):
    source = _randomized(UniFormer('test'))
    ckpt = _imagenet_checkpoint(source, token_labeling=True)
    torch.save(ckpt, tmp_path / 'in1k.pth')
    model = UniFormer(
        'test',
        init_cfg=dict(
            type='Pretrained', checkpoint=str(tmp_path / 'in1k.pth')))
    # head_dim 16 != official uniformer_small (TL: 32) -> must be caught
    with pytest.raises(ValueError, match='head_dim=32'):
        model.init_weights()
    ckpt['args'].model = 'custom'
    torch.save(ckpt, tmp_path / 'in1k.pth')
    model.init_weights()
    _assert_loaded(model, ckpt['model'])
    # output norms absent from ImageNet files keep the standard init
    for i in range(1, 5):
        assert torch.equal(
            getattr(model, f'norm{i}').weight,
            torch.ones(model.embed_dims[i - 1]))
        assert torch.equal(
            getattr(model, f'norm{i}').bias,
            torch.zeros(model.embed_dims[i - 1]))


def test_load_logs_one_summary_line(tmp_path):
    source = _randomized(UniFormer('test'))
    torch.save(_imagenet_checkpoint(source, 'custom'), tmp_path / 'a.pth')
    records = []
    logger = MMLogger.get_instance('uniformer_mm_test_load')
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    stats = load_pretrained(
        UniFormer('test'), str(tmp_path / 'a.pth'), logger=logger)
    messages = [r.getMessage() for r in records]
    # an own model name: head_dim could not be checked, then the summary
    assert len(messages) == 2
    assert "head_dim could not be checked: args.model='custom'" in messages[0]
    n_weights = len(source.state_dict()) - 8  # minus 4 output norms
    assert stats == dict(loaded=n_weights, inflated=0, skipped=6)
    assert f'{n_weights} tensors loaded' in messages[1]
    assert '6 classification-only tensors skipped' in messages[1]


@pytest.mark.parametrize('name, head_dim, token_labeling', [
    ('uniformer_small', 64, False),
    ('uniformer_small', 32, True),
    ('uniformer_small_dim64', 64, True),
    ('uniformer_small_plus', 32, False),
    ('uniformer_small_plus_dim64', 64, False),
    ('uniformer_base_ls', 64, False),
    ('uniformer_large_ls', 64, True),
])
def test_head_dim_from_official_names(name, head_dim, token_labeling):
    from uniformer_mm.checkpoints.backbone import head_dim_from_metadata
    ckpt = _imagenet_checkpoint(UniFormer('test'), name, token_labeling)
    assert head_dim_from_metadata(ckpt)[0] == head_dim


def test_dense_layout_with_mmdet2_metadata(tmp_path):
    source = _randomized(UniFormer('test'))
    state = {f'backbone.{k}': v for k, v in source.state_dict().items()}
    state['neck.lateral_convs.0.conv.weight'] = torch.rand(256, 8, 1, 1)
    state['roi_head.bbox_head.fc_cls.weight'] = torch.rand(81, 1024)
    config = "model = dict(backbone=dict(type='UniFormer', head_dim=16))"
    torch.save(
        {
            'state_dict': state,
            'optimizer': {
                'state': {}
            },
            'meta': {
                'mmdet_version': '2.11.0',
                'config': config,
                'CLASSES': ('person', 'car'),
                'epoch': 12
            }
        }, tmp_path / 'mask_rcnn.pth')
    model = UniFormer('test', out_indices=(1, 3))
    stats = load_pretrained(model, str(tmp_path / 'mask_rcnn.pth'))
    assert stats['skipped'] == 4  # norm1.* and norm3.* are not outputs here
    _assert_loaded(model, source.state_dict(), skip=())
    wrong = UniFormer(dict(ARCH_ZOO_2D['test'], head_dim=8))
    with pytest.raises(ValueError, match=r"head_dim=16 \(from its meta"):
        load_pretrained(wrong, str(tmp_path / 'mask_rcnn.pth'))


def test_explicit_prefix_and_ddp_module_prefix(tmp_path):
    source = _randomized(UniFormer('test'))
    state = {f'module.encoder.{k}': v for k, v in source.state_dict().items()}
    torch.save({'state_dict': state}, tmp_path / 'x.pth')
    model = UniFormer(
        'test',
        init_cfg=dict(
            type='Pretrained',
            checkpoint=str(tmp_path / 'x.pth'),
            prefix='encoder'))
    model.init_weights()
    _assert_loaded(model, source.state_dict(), skip=())


def test_own_plain_state_dict(tmp_path):
    source = _randomized(UniFormer3D('test'))
    torch.save(source.state_dict(), tmp_path / 'own.pth')
    model = UniFormer3D('test')
    assert load_pretrained(model, str(tmp_path / 'own.pth'))['inflated'] == 0
    _assert_loaded(model, source.state_dict(), skip=())


@pytest.mark.parametrize('preset', ['small', 'base'])
def test_slowfast_video_layout(tmp_path, preset, official_keys):
    shapes = official_keys[f'video_{preset}']
    ckpt = {
        'model_state': _synthetic(shapes),
        'epoch': 110,
        'cfg': 'UNIFORMER:\n  HEAD_DIM: 64\n  DEPTH: [3, 4, 8, 3]\n'
    }
    torch.save(ckpt, tmp_path / 'k400.pyth')
    model = UniFormer3D(preset)
    stats = load_pretrained(model, str(tmp_path / 'k400.pyth'))
    assert stats['skipped'] == 2  # head.weight, head.bias
    _assert_loaded(model, ckpt['model_state'], skip=())


@pytest.mark.parametrize('mode', ['average', 'center'])
def test_imagenet_into_3d_by_inflation(tmp_path, mode):
    source = _randomized(UniFormer('test'))
    ckpt = _imagenet_checkpoint(source, 'custom')
    torch.save(ckpt, tmp_path / 'in1k.pth')
    model = UniFormer3D(
        'test',
        inflate_mode=mode,
        init_cfg=dict(
            type='Pretrained', checkpoint=str(tmp_path / 'in1k.pth')))
    model.init_weights()
    w2d = ckpt['model']['patch_embed1.proj.weight']
    torch.testing.assert_close(model.patch_embed1.proj.weight,
                               inflate_weight(w2d, 3, mode))
    w2d = ckpt['model']['blocks1.0.attn.weight']
    torch.testing.assert_close(model.blocks1[0].attn.weight,
                               inflate_weight(w2d, 5, mode))
    # 1x1 kernels, linear layers and the final BN are copied as they are
    torch.testing.assert_close(model.blocks1[0].conv1.weight[:, :, 0],
                               ckpt['model']['blocks1.0.conv1.weight'])
    torch.testing.assert_close(model.blocks3[0].attn.qkv.weight,
                               ckpt['model']['blocks3.0.attn.qkv.weight'])
    torch.testing.assert_close(model.norm.running_var,
                               ckpt['model']['norm.running_var'])


def test_official_dense_keys_load_into_small(tmp_path, official_keys):
    torch.save(
        {
            'state_dict': {
                f'backbone.{k}': v
                for k, v in _synthetic(official_keys['dense_small']).items()
            }
        }, tmp_path / 'seg.pth')
    stats = load_pretrained(
        UniFormer('small', attn_mode='hybrid'), str(tmp_path / 'seg.pth'))
    assert stats['skipped'] == 0 and stats['inflated'] == 0


def test_wrong_depths_is_an_error_naming_keys(tmp_path, official_keys):
    torch.save({'model': _synthetic(official_keys['cls_base'])},
               tmp_path / 'base.pth')
    with pytest.raises(ValueError) as info:
        load_pretrained(UniFormer('small'), str(tmp_path / 'base.pth'))
    message = str(info.value)
    assert 'blocks1.3.' in message and 'does not have' in message
    assert "'depths': [5, 8, 20, 7]" in message and 'arch' in message


def test_conv_stem_mismatch_is_an_error(tmp_path, official_keys):
    torch.save({'model': _synthetic(official_keys['cls_small_plus_dim64'])},
               tmp_path / 'splus.pth')
    with pytest.raises(
            ValueError,
            match="absent from the checkpoint.*"
            "patch_embed1.proj.weight"):
        load_pretrained(UniFormer('small'), str(tmp_path / 'splus.pth'))
    with pytest.raises(ValueError, match="'conv_stem': True"):
        load_pretrained(UniFormer('small'), str(tmp_path / 'splus.pth'))


def test_shape_mismatch_is_an_error(tmp_path):
    torch.save(
        UniFormer(dict(ARCH_ZOO_2D['test'], embed_dims=[16, 32, 64,
                                                        256])).state_dict(),
        tmp_path / 'w.pth')
    with pytest.raises(ValueError, match='shape mismatches: .*blocks4'):
        load_pretrained(UniFormer('test'), str(tmp_path / 'w.pth'))


def test_weights_under_an_unknown_key_are_not_silently_ignored(tmp_path):
    torch.save({'weights': UniFormer('test').state_dict()}, tmp_path / 'w.pth')
    with pytest.raises(ValueError, match='non-tensor entries'):
        load_pretrained(UniFormer('test'), str(tmp_path / 'w.pth'))


# ----------------------------------------------------------- untrusted files
def test_refuses_numpy_pickles_and_names_the_type(tmp_path):
    torch.save(
        {
            'state_dict': UniFormer('test').state_dict(),
            'meta': {
                'seed': np.int64(3),
                'hist': np.zeros(3)
            }
        }, tmp_path / 'mmengine.pth')
    with pytest.raises(CheckpointRefusedError) as info:
        load_checkpoint_file(tmp_path / 'mmengine.pth')
    message = str(info.value)
    assert 'numpy' in message and 'strip_checkpoint.py' in message


class _Exploit:

    def __reduce__(self):
        return (print, ('this must never run', ))


def test_refuses_code_execution(tmp_path, capsys):
    torch.save({'model': {}, 'x': _Exploit()}, tmp_path / 'evil.pth')
    with pytest.raises(CheckpointRefusedError, match='builtins.print'):
        load_checkpoint_file(tmp_path / 'evil.pth')
    assert 'must never run' not in capsys.readouterr().out


def test_missing_and_non_checkpoint_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth.*--cfg-options'):
        load_checkpoint_file(tmp_path / 'nowhere.pth')
    (tmp_path / 'notes.txt').write_text('not a checkpoint')
    with pytest.raises(ValueError, match='not a .*PyTorch checkpoint'):
        load_checkpoint_file(tmp_path / 'notes.txt')
    # random bytes: the unpicklers raise IndexError, struct.error, ...
    rng = random.Random(0)
    for i in range(60):
        junk = tmp_path / f'junk{i}.bin'
        junk.write_bytes(bytes(rng.randrange(256) for _ in range(1 + i)))
        with pytest.raises(ValueError, match='not a .*PyTorch checkpoint'):
            load_checkpoint_file(junk)


def test_to_weights_only_makes_a_file_loadable(tmp_path):
    weights = UniFormer('test').state_dict()
    ckpt = {
        'state_dict': weights,
        'args': argparse.Namespace(lr=0.1),
        'meta': {
            'seed': np.int64(3),
            'hist': np.arange(3),
            'hook': _Exploit()
        }
    }
    clean, dropped = to_weights_only(ckpt)
    assert dropped == ['meta.hook (test_checkpoints._Exploit)']
    torch.save(clean, tmp_path / 'clean.pth')
    loaded = load_checkpoint_file(tmp_path / 'clean.pth')
    assert loaded['meta']['seed'] == 3 and loaded['args'] == {'lr': 0.1}
    assert torch.equal(loaded['meta']['hist'], torch.arange(3))
    assert set(loaded['state_dict']) == set(weights)
