"""uniformer_mm.models runs on torch + mmengine alone: no mmcv, no task
codebase (issue 12 §2)."""
import subprocess
import sys

import pytest
import torch

from uniformer_mm.models.blocks import DropPath

BLOCKER = """
import sys
BLOCKED = ('mmcv', 'mmdet', 'mmseg', 'mmpose', 'mmaction')
class _Unimportable:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError(f'{name} is made unimportable by the test')
sys.meta_path.insert(0, _Unimportable())
"""

SCRIPT = BLOCKER + """
import torch
from uniformer_mm.checkpoints import official_state_dict_shapes
from uniformer_mm.models import (UniFormer, UniFormer3D, UniFormerLight,
                                 UniFormerLight3D)
from uniformer_mm.registry import MODELS

torch.manual_seed(0)
# an official-layout ImageNet file (random values, the official keys)
state = {}
for key, shape in official_state_dict_shapes('cls_small').items():
    if key.endswith('num_batches_tracked'):
        state[key] = torch.zeros(shape, dtype=torch.long)
    elif key.endswith('running_var'):
        state[key] = torch.rand(shape) + 0.5
    else:
        state[key] = torch.randn(shape) * 0.02
torch.save({'model': state}, FILE)
init_cfg = dict(type='Pretrained', checkpoint=FILE)
cases = [
    (UniFormer(arch='small', init_cfg=init_cfg), (1, 3, 64, 64)),
    (UniFormer3D(arch='small', init_cfg=init_cfg), (1, 3, 4, 64, 64)),
    (UniFormer(arch='test', drop_path_rate=0.1), (2, 3, 64, 64)),
    (UniFormer3D(arch='test', drop_path_rate=0.1), (1, 3, 4, 64, 64)),
    (UniFormerLight(arch='xxs', drop_path_rate=0.1), (1, 3, 64, 64)),
    (UniFormerLight3D(arch='xxs'), (1, 3, 4, 64, 64)),
]
for model, shape in cases:
    model.init_weights()
    model.train()  # DropPath draws
    outs = model(torch.randn(*shape))
    outs = outs if isinstance(outs, tuple) else (outs, )
    assert all(torch.isfinite(o).all() for o in outs)
    print('OUT', type(model).__name__, [tuple(o.shape) for o in outs])
loaded = UniFormer(arch='small', init_cfg=init_cfg)
loaded.init_weights()
assert torch.equal(loaded.state_dict()['blocks3.0.attn.qkv.weight'],
                   state['blocks3.0.attn.qkv.weight'])
for name in ('UniFormer', 'UniFormer3D', 'UniFormerLight',
             'UniFormerLight3D'):
    assert MODELS.get(name) is not None, name
blocked = sorted(m for m in sys.modules
                 if m.split('.')[0] in ('mmcv', 'mmdet', 'mmseg', 'mmpose',
                                        'mmaction'))
print('OUT imported:', blocked)
"""


def test_backbones_build_run_and_load_official_files_without_mmcv(tmp_path):
    script = f'FILE = {str(tmp_path / "cls_small.pth")!r}\n' + SCRIPT
    result = subprocess.run([sys.executable, '-c', script],
                            capture_output=True,
                            text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [
        line[4:] for line in result.stdout.splitlines()
        if line.startswith('OUT ')
    ]
    # the Pretrained init logs its load summary
    assert 'Loaded ' in result.stdout and '(ImageNet layout)' in result.stdout
    assert lines[-1] == 'imported: []'
    names = [line.split(' ', 1)[0] for line in lines[:-1]]
    # UniFormer: 4 maps at strides 4 / 8 / 16 / 32, small's widths
    assert lines[0] == ('UniFormer [(1, 64, 16, 16), (1, 128, 8, 8), '
                        '(1, 320, 4, 4), (1, 512, 2, 2)]')
    # UniFormer3D: the final map, T / 2 and H, W / 32
    assert lines[1] == 'UniFormer3D [(1, 512, 2, 2, 2)]'
    assert names == [
        'UniFormer', 'UniFormer3D', 'UniFormer', 'UniFormer3D',
        'UniFormerLight', 'UniFormerLight3D'
    ]


def test_blocker_makes_mmcv_unimportable():
    """The test above proves something only if the finder works."""
    code = BLOCKER + """
try:
    import mmcv.cnn
except ImportError as e:
    print('blocked:', e)
"""
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True,
                            text=True,
                            timeout=120)
    assert 'blocked: mmcv' in result.stdout


@pytest.mark.parametrize('shape', [(4, 8, 5, 5), (3, 6, 2, 4, 4), (5, 7)])
@pytest.mark.parametrize('drop_prob', [0.1, 0.5])
def test_drop_path_draws_as_mmcv(shape, drop_prob):
    """Ours replaces mmcv's: same random numbers, bit-identical outputs."""
    mmcv_bricks = pytest.importorskip('mmcv.cnn.bricks')
    x = torch.randn(*shape)
    theirs, ours = mmcv_bricks.DropPath(drop_prob), DropPath(drop_prob)
    torch.manual_seed(7)
    expected = theirs(x)
    torch.manual_seed(7)
    got = ours(x)
    assert torch.equal(got, expected)
    # per sample: either dropped (zeros) or scaled by 1 / keep_prob
    for sample, inp in zip(got, x):
        assert (torch.equal(sample, torch.zeros_like(sample))
                or torch.equal(sample, inp.div(1 - drop_prob)))
    ours.eval()
    assert ours(x) is x
