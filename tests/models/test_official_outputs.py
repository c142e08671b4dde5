"""Our backbones against recorded outputs of the official code.

``tests/fixtures/official/*.pth`` were written by
``scripts/record_official_fixtures.py``, which runs the official UniFormer
files themselves (see the README there). Each holds official-layout weights,
an input, every stage's output in eval and train mode, the gradient of every
parameter for a fixed loss, and the BatchNorm statistics after the training
forward. Here the weights go through our real loader (``init_cfg``
``Pretrained`` -> :func:`uniformer_mm.checkpoints.load_pretrained`, as
``tools/convert_official.py`` and every config use it) into the backbone
built from the preset-style arch, with the default fast paths and with the
reference path; everything must match to 1e-5 of each tensor's scale.
"""
import dataclasses

import pytest
import torch
from official_fixtures import (BACKBONES, FIXTURES, assert_matches,
                               build_from_fixture, load_fixture)
from torch.nn.modules.batchnorm import _BatchNorm

from uniformer_mm.checkpoints import inflate_weight
from uniformer_mm.models.ops import FastPaths


def check_against_fixture(model, name):
    """Eval outputs, then train outputs, gradients and BN statistics."""
    fixture = load_fixture(name)
    x = fixture['input']
    model.eval()
    with torch.no_grad():  # the inference fast paths (in place) run here
        outs = model(x)
    for i, (ours, official) in enumerate(zip(outs, fixture['eval_outputs'])):
        assert_matches(ours, official, f'{name} eval stage {i + 1}')
    model.train()
    outs = model(x)
    assert len(outs) == len(fixture['train_outputs']) == 4
    for i, (ours, official) in enumerate(zip(outs, fixture['train_outputs'])):
        assert_matches(ours, official, f'{name} train stage {i + 1}')
    loss = sum((o * w).sum() for o, w in zip(outs, fixture['loss_weights']))
    loss.backward()
    params = dict(model.named_parameters())
    # every parameter of the backbone gets its gradient, and no other
    assert set(fixture['grads']) == {
        n
        for n, p in params.items() if p.grad is not None
    }
    scale = max(g.abs().max().item() for g in fixture['grads'].values())
    for key, grad in fixture['grads'].items():
        assert_matches(params[key].grad.reshape(grad.shape), grad,
                       f'{name} grad {key}', scale)
    buffers = dict(model.named_buffers())
    for key, stat in fixture['stats_after_train'].items():
        assert_matches(buffers[key], stat, f'{name} {key} after training')


@pytest.mark.parametrize('fast_paths', ['fast', 'reference'])
@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_matches_official_code(name, fast_paths, tmp_path):
    model = build_from_fixture(name, tmp_path, fast_paths)
    check_against_fixture(model, name)


FLAGS = [f.name for f in dataclasses.fields(FastPaths)]


@pytest.mark.parametrize('flag', FLAGS)
@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_each_fast_path_alone_matches_official_code(name, flag, tmp_path):
    flags = {f: f == flag for f in FLAGS}  # this one on, the others off
    check_against_fixture(
        build_from_fixture(name, tmp_path, flags), name)


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_with_cp_matches_official_code(name, tmp_path):
    model = build_from_fixture(name, tmp_path, with_cp=True)
    assert model.cp_blocks == model.depths  # every block checkpointed
    check_against_fixture(model, name)


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_out_indices_give_the_official_stages(name, tmp_path):
    model = build_from_fixture(name, tmp_path, out_indices=(1, 3)).eval()
    with torch.no_grad():
        outs = model(load_fixture(name)['input'])
    assert len(outs) == 2
    for ours, i in zip(outs, (1, 3)):
        assert_matches(ours,
                       load_fixture(name)['eval_outputs'][i],
                       f'{name} out_indices stage {i + 1}')


@pytest.mark.parametrize('name', sorted(BACKBONES))
def test_norm_eval_alone_trains_on_running_statistics(name, tmp_path):
    """norm_eval without freezing: in train mode every BatchNorm (and only
    the BatchNorms) stays in eval mode, its statistics do not move, every
    parameter still trains, and the output is the official eval-mode one
    (drop rates are 0: BatchNorm is the only difference)."""
    fixture = load_fixture(name)
    model = build_from_fixture(name, tmp_path, norm_eval=True).train()
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm)]
    assert norms and not any(m.training for m in norms)
    assert all(m.training for m in model.modules()
               if not isinstance(m, _BatchNorm))
    assert all(p.requires_grad for p in model.parameters())
    before = {k: v.clone() for k, v in model.named_buffers()}
    outs = model(fixture['input'])
    for i, (ours, official) in enumerate(zip(outs, fixture['eval_outputs'])):
        assert_matches(ours, official, f'{name} norm_eval stage {i + 1}')
    for key, value in model.named_buffers():
        assert torch.equal(value, before[key]), key


def test_inflate_weight_is_the_official_formula():
    """Both inflation modes, against the official ``inflate_weight`` run on
    the same kernel (the video fixture also loads a whole 2D file through
    the official ``get_pretrained_model``)."""
    recorded = load_fixture('uniformer_video_inflated')['inflation']
    for mode in ('average', 'center'):
        ours = inflate_weight(recorded['kernel_2d'], recorded['time_dim'],
                              mode)
        assert_matches(ours, recorded[mode], f'inflate_mode={mode}')


def test_fixtures_stay_small():
    total = sum(p.stat().st_size for p in FIXTURES.glob('*.pth'))
    assert len(list(FIXTURES.glob('*.pth'))) == len(BACKBONES)
    assert total < 6 * 2**20, f'{total / 2**20:.1f} MiB of fixtures'
