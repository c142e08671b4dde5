import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from uniformer_mm import UniFormer
from uniformer_mm.checkpoints import load_pretrained

ROOT = Path(__file__).resolve().parents[2]


def _run(*args):
    return subprocess.run([sys.executable, *map(str, args)],
                          capture_output=True,
                          text=True,
                          timeout=300)


def test_strip_checkpoint_round_trip(tmp_path):
    model = UniFormer('test')
    src, dst = tmp_path / 'trained.pth', tmp_path / 'clean.pth'
    torch.save(
        {
            'state_dict': {
                f'backbone.{k}': v
                for k, v in model.state_dict().items()
            },
            'meta': {
                'seed': np.int64(1),
                'dtype': np.dtype('float32')
            },
            'message_hub': {
                'log': np.zeros(4)
            }
        }, src)
    refused = _run(ROOT / 'tools/checkpoint/strip_checkpoint.py', src, dst)
    assert refused.returncode != 0 and '--trust-source' in refused.stderr
    assert not dst.exists()
    done = _run(ROOT / 'tools/checkpoint/strip_checkpoint.py', src, dst,
                '--trust-source')
    assert done.returncode == 0, done.stderr
    assert 'dropped meta.dtype' in done.stderr
    stats = load_pretrained(UniFormer('test'), str(dst))
    assert stats['loaded'] == len(model.state_dict())
