"""Helpers of the tests that compare our models with the recordings of the
official code in ``tests/fixtures/official/`` (see the README there)."""
import functools
from pathlib import Path

import torch

from uniformer_mm.models import (UniFormer, UniFormer3D, UniFormerLight,
                                 UniFormerLight3D)

FIXTURES = Path(__file__).resolve().parent / 'fixtures' / 'official'
BACKBONES = {
    'uniformer_global': UniFormer,
    'uniformer_window': UniFormer,
    'uniformer_hybrid': UniFormer,
    'uniformer_video': UniFormer3D,
    'uniformer_video_inflated': UniFormer3D,
    'uniformer_light': UniFormerLight,
    'uniformer_light_video': UniFormerLight3D,
    'uniformer_light_video_ls': UniFormerLight3D,
}
RTOL = 1e-5  # of the largest magnitude of each recorded tensor
ATOL = 1e-7  # for tensors that are all (near) zero


@functools.lru_cache(maxsize=None)
def load_fixture(name):
    """The recording ``name`` (read once)."""
    return torch.load(FIXTURES / f'{name}.pth', weights_only=True)


def assert_matches(ours, official, what, scale=None):
    """``max|ours - official| <= RTOL * max|official| + ATOL``. A tensor
    that is zero by construction (the recorded float64 value is rounding
    noise, below 1e-9 of ``scale``: e.g. the gradient of a bias followed by
    a BatchNorm in training) is compared against ``RTOL * scale``, the
    largest magnitude among its kind (all gradients of the model)."""
    assert ours.shape == official.shape, (what, ours.shape, official.shape)
    error = (ours.float() - official).abs().max().item()
    largest = official.abs().max().item()
    if scale is not None and largest < 1e-9 * scale:
        largest = scale
    bound = RTOL * largest + ATOL
    assert error <= bound, (f'{what}: max |ours - official| = {error:.3g} > '
                            f'{bound:.3g}')


def build_from_fixture(name, tmp_path, fast_paths='fast', **kwargs):
    """Our backbone of fixture ``name`` with its official weights loaded the
    way configs load them."""
    fixture = load_fixture(name)
    path = tmp_path / f'{name}_official.pth'
    torch.save(fixture['checkpoint'], path)
    kwargs = {
        'out_indices': (0, 1, 2, 3),
        'fast_paths': fast_paths,
        **fixture['kwargs'],
        **kwargs
    }
    model = BACKBONES[name](
        arch=fixture['arch'],
        init_cfg=dict(type='Pretrained', checkpoint=str(path)),
        **kwargs)
    model.init_weights()
    return model
