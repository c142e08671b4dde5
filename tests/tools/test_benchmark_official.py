"""The benchmark's ``official`` section: the official code runs beside ours
with the same weights, and its stubbed imports do not leak.

The official repository is not part of the checkout, so a stand-in
"official" detection file (same path and constructor as the official one,
importing the same framework modules) plays its part here.
"""
import importlib.util
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]

STAND_IN = '''
from functools import partial

import torch.nn as nn
from mmdet.models.builder import BACKBONES
from mmdet.utils import get_root_logger
from timm.models.layers import DropPath, to_2tuple, trunc_normal_

import uniformer_mm

assert BACKBONES.register_module()(int) is int  # the stub registry


class UniFormer(uniformer_mm.UniFormer):
    """Our reference computation behind the official constructor."""

    def __init__(self, layers, embed_dim, head_dim, mlp_ratio, windows,
                 hybrid, window_size, **kwargs):
        mode = 'hybrid' if hybrid else 'window' if windows else 'global'
        super().__init__(
            dict(depths=layers, embed_dims=embed_dim, head_dim=head_dim,
                 mlp_ratios=mlp_ratio),
            attn_mode=mode, window_size=window_size,
            fast_paths='reference')
        self.apply(self._init_module)
'''


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def benchmark(monkeypatch):
    module = _load('benchmark', 'tools/analysis/benchmark.py')
    monkeypatch.setitem(
        module.BACKBONE_CASES, 'tiny-hybrid',
        ('UniFormer',
         dict(
             arch=dict(
                 depths=[1, 1, 4, 1], embed_dims=[16, 32, 64, 128],
                 head_dim=16),
             attn_mode='hybrid',
             window_size=3), (1, 3, 96, 64)))
    return module


def test_official_section_needs_the_repository(benchmark):
    with pytest.raises(SystemExit, match='--official-repo'):
        benchmark.main(['--sections', 'official', '--repeats', '1'])


def test_official_builds_compute_alike_and_leave_no_stubs(
        benchmark, tmp_path):
    path = tmp_path / 'object_detection/mmdet/models/backbones'
    path.mkdir(parents=True)
    (path / 'uniformer.py').write_text(STAND_IN)
    before = {name: sys.modules.get(name) for name in ('mmdet', 'timm')}
    code, src = benchmark._official_code(str(tmp_path))
    builds = benchmark.official_builds('tiny-hybrid', src, code, 'cpu')
    assert list(builds) == ['official', 'ours']
    # the real packages (or their absence) are back after the exec
    assert {name: sys.modules.get(name) for name in before} == before
    official, ours = builds['official'], builds['ours']
    assert ours.attn_mode == 'hybrid' and ours.window_size == 3
    # our build took the official model's weights through the converter
    for key, value in official.state_dict().items():
        torch.testing.assert_close(
            ours.state_dict()[key], value, rtol=0, atol=0, msg=key)
    x = torch.randn(1, 3, 96, 64)
    official.eval(), ours.eval()
    with torch.no_grad():
        for a, b in zip(official(x), ours(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    rows = benchmark.compare(
        {
            name: benchmark.official_runners(name, model, x)
            for name, model in builds.items()
        },
        repeats=2,
        device='cpu',
        memory=benchmark.PeakMemory('cpu'),
        spread=True)
    for row in rows.values():
        assert 0 < row['forward_min'] <= row['forward']
        assert 0 < row['train_min'] <= row['train']
