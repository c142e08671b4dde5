import importlib
import subprocess
import sys

import pytest
import torch
from mmengine.registry import DefaultScope

from uniformer_mm import UniFormer, UniFormer3D
from uniformer_mm.registry import MODELS as OUR_MODELS


@pytest.mark.parametrize('scope, type_name, cls, shape', [
    ('mmdet', 'UniFormer', UniFormer, (1, 3, 64, 64)),
    ('mmseg', 'UniFormer', UniFormer, (1, 3, 64, 64)),
    ('mmpose', 'UniFormer', UniFormer, (1, 3, 64, 64)),
    ('mmaction', 'UniFormer3D', UniFormer3D, (1, 3, 4, 64, 64)),
    ('uniformer_mm', 'UniFormer', UniFormer, (1, 3, 64, 64)),
    ('uniformer_mm', 'UniFormer3D', UniFormer3D, (1, 3, 4, 64, 64)),
])
def test_each_registry_builds_each_type(scope, type_name, cls, shape):
    registry = (
        OUR_MODELS if scope == 'uniformer_mm' else
        importlib.import_module(f'{scope}.registry').MODELS)
    # as a Runner of that codebase builds it (its scope is the default)
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(
            dict(type=type_name, arch='test', drop_path_rate=0.1))
    assert type(model) is cls
    out = model.eval()(torch.randn(*shape))
    assert torch.isfinite(out[-1] if isinstance(out, tuple) else out).all()


def test_mmaction_keeps_its_own_uniformer():
    from mmaction.models.backbones.uniformer import \
        UniFormer as MMActionUniFormer
    from mmaction.registry import MODELS
    assert MODELS.get('UniFormer') is MMActionUniFormer
    assert MODELS.get('UniFormer3D') is UniFormer3D


def test_scoped_build_resolves_plain_type_name():
    from mmdet.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(dict(type='UniFormer', arch='test'))
    assert isinstance(model, UniFormer)


def test_custom_imports_registers_everything_in_a_fresh_process(tmp_path):
    """What a config with custom_imports=dict(imports=['uniformer_mm']) gets:
    all four codebases import and see our types, incl. mmaction.models on
    the mmaction2 1.2.0 wheel (drn stand-in) and our video transforms."""
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("custom_imports = dict(imports=['uniformer_mm'], "
                   'allow_failed_imports=False)\n')
    code = f"""
from mmengine.config import Config
Config.fromfile({str(cfg)!r})
import mmdet.models, mmseg.models, mmpose.models, mmaction.models
from mmdet.registry import MODELS as D
from mmseg.registry import MODELS as S
from mmpose.registry import MODELS as P
from mmaction.registry import MODELS as A
assert D.get('UniFormer') is S.get('UniFormer') is P.get('UniFormer')
assert A.get('UniFormer3D') is not None
from mmaction.registry import TRANSFORMS
for name in ('ClipRandAugment', 'CheckedPyAVInit', 'CheckedPyAVDecode'):
    assert TRANSFORMS.get(name) is not None, name
try:
    A.build(dict(type='DRN'))
except RuntimeError as e:
    assert 'missing from the mmaction2 1.2.0' in str(e)
else:
    raise AssertionError('the DRN stand-in must explain itself')
print('ok')
"""
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith('ok')
