"""The benchmark's bf16 section on a CPU that emulates bf16."""
import importlib.util
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]


def _load_benchmark():
    spec = importlib.util.spec_from_file_location(
        'benchmark', ROOT / 'tools/analysis/benchmark.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_amp_section_skips_emulated_bf16_naming_cpu_and_slowdown(
        monkeypatch, capsys):
    from uniformer_mm.models import ops
    benchmark = _load_benchmark()
    monkeypatch.setattr(ops, 'cpu_bf16_native', lambda: False)
    monkeypatch.setattr(benchmark, '_bf16_slowdown', lambda: 12.3)
    built = []
    monkeypatch.setattr(benchmark, 'build_backbone',
                        lambda *a, **kw: built.append(a))
    args = benchmark.parse_args(['--sections', 'amp'])
    benchmark.section_amp(args, memory=None)
    out = capsys.readouterr().out
    capability = torch.backends.cpu.get_cpu_capability()
    assert f'CPU {capability}, no native bf16' in out
    assert 'skipping bf16' in out and '12x slower than float32' in out
    assert not built  # nothing bf16 ran
