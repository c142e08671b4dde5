"""Training checkpoints that load weights-only, and exact resume."""
import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import Killed
from mmengine.logging import HistoryBuffer
from toy_training import toy_runner

from uniformer_mm.checkpoints import (CheckpointRefusedError,
                                      load_checkpoint_file)

ROOT = Path(__file__).resolve().parents[2]


def test_training_checkpoint_loads_weights_only(tmp_path):
    toy_runner(tmp_path, 4).train()
    ckpt = load_checkpoint_file(tmp_path / 'iter_4.pth')
    assert ckpt['meta']['iter'] == 4
    assert set(ckpt) >= {
        'state_dict', 'optimizer', 'param_schedulers', 'message_hub'
    }
    # MMEngine's loader goes through ours and rebuilds the logged scalars
    from mmengine.runner.checkpoint import _load_checkpoint
    loaded = _load_checkpoint(str(tmp_path / 'iter_4.pth'))
    history = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(history, HistoryBuffer) and len(history.data[0]) == 4


def test_resume_matches_uninterrupted_training(tmp_path):
    full = toy_runner(tmp_path / 'full', 8)
    full.train()
    with pytest.raises(Killed):  # the same job, killed after iteration 4
        toy_runner(tmp_path / 'cut', 8, kill_after=4).train()
    resumed = toy_runner(tmp_path / 'cut', 8, resume=True)
    resumed.train()
    assert resumed.iter == full.iter == 8
    for (name, a), b in zip(full.model.state_dict().items(),
                            resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    assert resumed.optim_wrapper.get_lr() == full.optim_wrapper.get_lr()
    full_state = full.optim_wrapper.state_dict()['state']
    resumed_state = resumed.optim_wrapper.state_dict()['state']
    for key in full_state:
        torch.testing.assert_close(full_state[key]['momentum_buffer'],
                                   resumed_state[key]['momentum_buffer'])
    losses = resumed.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 8  # the log history continued across the restart


def test_plain_mmengine_checkpoint_is_refused_then_stripped(tmp_path):
    toy_runner(tmp_path, 4, hooks=False).train()
    raw = tmp_path / 'iter_4.pth'
    with pytest.raises(CheckpointRefusedError) as info:
        load_checkpoint_file(raw)
    assert 'builtins.getattr' in str(info.value)
    assert 'strip_checkpoint.py' in str(info.value)
    clean = tmp_path / 'clean.pth'
    done = subprocess.run([
        sys.executable, ROOT / 'tools/checkpoint/strip_checkpoint.py', raw,
        clean, '--trust-source'
    ],
                          capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    # the stripped file resumes like one written with the hook
    resumed = toy_runner(tmp_path, 8, load_from=str(clean), resume=True)
    resumed.train()
    assert resumed.iter == 8


def test_train_script_adds_the_hook_once(tmp_path):
    sys.path.insert(0, str(ROOT / 'tools'))
    try:
        import train
    finally:
        sys.path.pop(0)
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(
        "custom_hooks = [dict(type='EMAHook')]\n"
        "optim_wrapper = dict(type='OptimWrapper')\n"
        "default_hooks = dict(checkpoint=dict(type='CheckpointHook', "
        "interval=7, max_keep_ckpts=2))\n")
    args = train.parse_args([str(cfg_file), '--resume', '--amp'])
    cfg = train.build_config(args)
    assert [h['type'] for h in cfg.custom_hooks] == [
        'EMAHook', 'WeightsOnlyCheckpointHook', 'PreemptionHook',
        'NonFiniteLossHook', 'ClassCountCheckHook'
    ]
    # MMEngine's checkpoint hook becomes the atomic one, arguments kept
    assert cfg.default_hooks.checkpoint == dict(
        type='SafeCheckpointHook', interval=7, max_keep_ckpts=2)
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.work_dir.endswith('cfg')
    with pytest.raises(FileNotFoundError, match='nope.py'):
        train.build_config(train.parse_args([str(tmp_path / 'nope.py')]))
    again = copy.deepcopy(cfg)
    again.dump(str(tmp_path / 'dumped.py'))
    args = train.parse_args([str(tmp_path / 'dumped.py')])
    types = [h['type'] for h in train.build_config(args).custom_hooks]
    for hook in ('WeightsOnlyCheckpointHook', 'PreemptionHook',
                 'NonFiniteLossHook', 'ClassCountCheckHook'):
        assert types.count(hook) == 1


def test_missing_dataset_and_checkpoint_paths_are_named(tmp_path):
    from mmengine.config import Config

    from uniformer_mm.engine import check_checkpoint_paths, check_dataset_paths
    (tmp_path / 'ann.json').write_text('{}')
    (tmp_path / 'imgs').mkdir()
    dataset = dict(
        type='CocoDataset',
        data_root=str(tmp_path),
        ann_file='ann.json',
        data_prefix=dict(img='imgs/'))
    cfg = Config(
        dict(
            train_dataloader=dict(
                dataset=dict(type='RepeatDataset', times=2, dataset=dataset)),
            val_dataloader=dict(dataset=dict(dataset, ann_file='val.json')),
            model=dict(
                backbone=dict(
                    init_cfg=dict(
                        type='Pretrained',
                        checkpoint=str(tmp_path / 'in1k.pth')))),
            load_from=None))
    check_dataset_paths(cfg, splits=('train', ))
    with pytest.raises(FileNotFoundError) as info:
        check_dataset_paths(cfg)
    assert f'val: {tmp_path}/val.json' in str(info.value)
    assert 'train:' not in str(info.value) and 'data_root=PATH' in str(
        info.value)
    # the option that reaches the dataset inside the train wrapper
    assert ('train_dataloader.dataset.dataset.data_root=PATH '
            'val_dataloader.dataset.data_root=PATH') in str(info.value)
    with pytest.raises(FileNotFoundError) as info:
        check_checkpoint_paths(cfg)
    assert "model.backbone.init_cfg.checkpoint = '" in str(info.value)
    assert 'in1k.pth' in str(info.value) and 'init_cfg=None' in str(info.value)
    cfg.model.backbone.init_cfg = None
    check_checkpoint_paths(cfg)
