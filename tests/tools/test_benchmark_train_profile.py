"""The benchmark's train-profile attribution of a step to block parts."""
import importlib.util
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from uniformer_mm import UniFormer

ROOT = Path(__file__).resolve().parents[2]


def _load_benchmark():
    spec = importlib.util.spec_from_file_location(
        'benchmark', ROOT / 'tools/analysis/benchmark.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_part_gets_its_forward_and_backward_time():
    benchmark = _load_benchmark()
    torch.manual_seed(0)
    model = UniFormer(
        dict(depths=[1, 1, 1, 1], embed_dims=[16, 32, 64, 128], head_dim=16))
    x = torch.randn(1, 3, 64, 64)
    _, train = benchmark.backbone_runners(model, x)
    with benchmark._part_ranges(model), profile(
            activities=[ProfilerActivity.CPU]) as prof:
        train()
    events = prof.events()
    parts = benchmark._part_times(events)
    assert set(parts) == {
        'MHRA attention (qkv, attention, proj)',
        'token MLP (linear, GELU, linear)', 'conv MLP (1x1, GELU, 1x1)',
        'norms', 'patch embedding', '1x1 conv (local MHRA)',
        benchmark.FUSED_NORM_PART,
        'depth-wise conv 3x3 (DPE / local MHRA)',
        'depth-wise conv 5x5 (DPE / local MHRA)'
    }
    forward = {}
    for e in events:
        if e.name.startswith(benchmark._PART):
            name = e.name[len(benchmark._PART):]
            forward[name] = forward.get(name, 0) + e.cpu_time_total / 1e6
    for part, seconds in parts.items():
        # the backward ops linked to the part's forward ops were added
        assert seconds > forward[part] > 0, part
    # the hooks are gone: a second step records no part ranges
    with profile(activities=[ProfilerActivity.CPU]) as again:
        train()
    assert not any(
        e.name.startswith(benchmark._PART) for e in again.events())
    step = sum(e.self_cpu_time_total for e in prof.key_averages()) / 1e6
    assert sum(parts.values()) < step
