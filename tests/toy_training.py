"""A tiny MMEngine training run (a regression model, SGD, a warm-up and a
step), for the checkpoint, resume and fault tests of tests/engine and
tests/checkpoints."""
import uuid

import torch
import torch.nn as nn
from conftest import KillAfter
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset


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


def toy_runner(work_dir,
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
