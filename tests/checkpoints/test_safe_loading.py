"""Importing uniformer_mm registers modules and changes nothing else; the
weights-only loader for MMEngine is installed explicitly (our tools, a
config's custom_imports, the hook), idempotently."""
import argparse
import subprocess
import sys

import torch
from mmengine.runner import CheckpointLoader

from uniformer_mm.checkpoints import (WeightsOnlyCheckpointHook,
                                      install_weights_only_loader,
                                      weights_only_loader_installed)
from uniformer_mm.checkpoints.io import load_local_checkpoint


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True,
                            text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _official_file(path):
    # an official ImageNet file: the training args as argparse.Namespace
    torch.save(
        {
            'model': {
                'w': torch.ones(2)
            },
            'args': argparse.Namespace(model='uniformer_small')
        }, path)


def test_import_changes_no_loader_and_config_import_installs_it(tmp_path):
    _official_file(tmp_path / 'official.pth')
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("custom_imports = dict(imports=['uniformer_mm', "
                   "'uniformer_mm.checkpoints.safe_loading'], "
                   "allow_failed_imports=False)\n")
    out = _run(f"""
from mmengine.runner import CheckpointLoader
before = dict(CheckpointLoader._schemes)
import uniformer_mm
from uniformer_mm.checkpoints import weights_only_loader_installed
assert CheckpointLoader._schemes == before, 'import changed the loaders'
assert not weights_only_loader_installed()
try:  # MMEngine's own loader: torch's weights-only refuses the Namespace
    CheckpointLoader.load_checkpoint({str(tmp_path / 'official.pth')!r})
except Exception as e:
    print('refused before:', type(e).__name__)
from mmengine.config import Config
Config.fromfile({str(cfg)!r})
assert weights_only_loader_installed()
ckpt = CheckpointLoader.load_checkpoint({str(tmp_path / 'official.pth')!r})
print('loaded after:', ckpt['args'].model, len(CheckpointLoader._schemes),
      len(before))
""")
    assert 'refused before: UnpicklingError' in out
    loaded = out.split('loaded after: ')[1].split()
    assert loaded[0] == 'uniformer_small'
    assert loaded[1] == loaded[2]  # replaced the local loader, added none


def test_install_is_idempotent_and_the_hook_installs(monkeypatch):
    schemes = dict(CheckpointLoader._schemes)
    mmengine_local = schemes.pop('')
    if mmengine_local is load_local_checkpoint:  # conftest installed ours
        from mmengine.runner.checkpoint import load_from_local
        mmengine_local = load_from_local
    monkeypatch.setattr(CheckpointLoader, '_schemes', {
        **schemes, '': mmengine_local
    })
    assert not weights_only_loader_installed()
    WeightsOnlyCheckpointHook().before_run(runner=None)
    assert weights_only_loader_installed()
    snapshot = dict(CheckpointLoader._schemes)
    install_weights_only_loader()
    install_weights_only_loader()
    assert CheckpointLoader._schemes == snapshot
    assert CheckpointLoader._schemes[''] is load_local_checkpoint
