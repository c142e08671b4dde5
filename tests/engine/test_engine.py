"""Training checkpoints that load weights-only, and exact resume."""
import copy
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from conftest import KillAfter, Killed
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from uniformer_mm.checkpoints import (CheckpointRefusedError,
                                      load_checkpoint_file)

ROOT = Path(__file__).resolve().parents[2]


class _Regression(BaseModel):

    def __init__(self):
        super().__init__()
        # dropout: resuming must also restore the random state
        self.net = nn.Sequential(
            nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3),
            nn.Linear(8, 1))

    def forward(self, x, y, mode='loss'):
        return dict(loss=((self.net(x) - y)**2).mean())


class _Data(Dataset):

    def __len__(self):
        return 64

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        x = torch.randn(4, generator=g)
        return dict(x=x, y=x.sum(0, keepdim=True))


def _runner(work_dir,
            max_iters,
            hooks=True,
            kill_after=None,
            checkpoint='CheckpointHook',
            extra_hooks=(),
            lr=0.05,
            max_keep_ckpts=-1,
            **kwargs):
    custom_hooks = [dict(type='WeightsOnlyCheckpointHook')] if hooks else []
    if kill_after:
        custom_hooks.append(KillAfter(kill_after))
    custom_hooks.extend(extra_hooks)
    torch.manual_seed(0)
    return Runner(
        model=_Regression(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_Data(),
            batch_size=8,
            sampler=dict(type='InfiniteSampler', shuffle=True, seed=3),
            collate_fn=dict(type='default_collate')),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr, momentum=0.9)),
        param_scheduler=[
            dict(
                type='LinearLR',
                start_factor=0.1,
                by_epoch=False,
                begin=0,
                end=4),
            dict(type='MultiStepLR', milestones=[6], by_epoch=False)
        ],
        default_hooks=dict(
            checkpoint=dict(
                type=checkpoint,
                interval=4,
                by_epoch=False,
                max_keep_ckpts=max_keep_ckpts),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=custom_hooks,
        randomness=dict(seed=0),
        # runners of one second would share MMEngine's global MessageHub
        experiment_name=uuid.uuid4().hex,
        **kwargs)


def test_training_checkpoint_loads_weights_only(tmp_path):
    _runner(tmp_path, 4).train()
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
    full = _runner(tmp_path / 'full', 8)
    full.train()
    with pytest.raises(Killed):  # the same job, killed after iteration 4
        _runner(tmp_path / 'cut', 8, kill_after=4).train()
    resumed = _runner(tmp_path / 'cut', 8, resume=True)
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
    _runner(tmp_path, 4, hooks=False).train()
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
    resumed = _runner(tmp_path, 8, load_from=str(clean), resume=True)
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
