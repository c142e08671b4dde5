"""tools/analysis/compare_outputs.py: every setting builds and runs, and
'reference' turns every fast path off."""
import dataclasses
import importlib.util
from pathlib import Path

import pytest
import torch

from uniformer_mm.models.ops import FastPaths

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'compare_outputs', ROOT / 'tools/analysis/compare_outputs.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_settings_cover_every_fast_path(tool):
    flags = [f.name for f in dataclasses.fields(FastPaths)]
    assert tool.SETTINGS['reference'] == {flag: False for flag in flags}
    assert {f'no-{flag}' for flag in flags} <= set(tool.SETTINGS)


@pytest.mark.parametrize('mode', ['eval', 'train'])
def test_every_setting_runs_and_matches_the_reference(tool, mode):
    runs = {
        name:
        tool._run('UniFormer', dict(arch='test'), (1, 3, 64, 64), mode,
                  setting)
        for name, setting in tool.SETTINGS.items()
    }
    reference = runs.pop('reference')
    for name, results in runs.items():
        assert set(results) == set(reference), name
        for key, value in results.items():
            torch.testing.assert_close(
                value.float(),
                reference[key].float(),
                rtol=1e-4,
                atol=1e-5,
                msg=f'{name} {key}')
