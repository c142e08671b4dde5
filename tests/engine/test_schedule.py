"""tools/train.py --scale-schedule: the schedulers follow the run length."""
import importlib.util
import logging
import math

import pytest
import torch
from conftest import CONFIGS, ROOT
from mmengine.config import Config

from uniformer_mm.engine.schedule import (fit_schedule_to_run,
                                          fit_warmup_to_epoch, scale_schedule,
                                          schedule_length, set_iter_budget)

DET_ZOO = CONFIGS / 'detection' / 'mask-rcnn_uniformer-xxs_fpn_1x_coco.py'
DET_TEMPLATE = (
    CONFIGS / 'detection' / 'custom' /
    'mask-rcnn_uniformer-xxs_fpn_1x_custom-coco.py')
SEG_ZOO = CONFIGS / 'segmentation' / 'fpn_uniformer-xxs_8xb4-80k_ade20k-512x512.py'  # noqa: E501


def _train_tool():
    spec = importlib.util.spec_from_file_location('train_tool',
                                                  ROOT / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _by_type(cfg, name):
    return next(s for s in cfg.param_scheduler if s.type == name)


@pytest.mark.parametrize('config,flag', [(DET_ZOO, ['--scale-schedule']),
                                         (DET_TEMPLATE, [])])
def test_train_tool_scales_the_dumped_schedule(config, flag, tmp_path):
    """The zoo config with the flag, the template by its own
    scale_schedule = True: warm-up end and milestones x 4/12 (the
    official 1x values: 500 iterations, epochs 8 and 11 of 12)."""
    train = _train_tool()
    args = train.parse_args([
        str(config), '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=4'
    ] + flag)
    cfg = train.build_config(args)
    cfg.dump(str(tmp_path / 'dumped.py'))
    dumped = Config.fromfile(str(tmp_path / 'dumped.py'))
    ratio = 4 / 12
    assert dumped.train_cfg.max_epochs == 4
    assert _by_type(dumped, 'LinearLR').end == round(500 * ratio)
    steps = _by_type(dumped, 'MultiStepLR')
    assert steps.milestones == [round(8 * ratio), round(11 * ratio)]
    assert steps.end == 4


def test_without_the_flag_the_schedule_stays_and_a_warning_says_so(
        tmp_path, monkeypatch):
    train = _train_tool()
    logged = []
    monkeypatch.setattr(train, 'print_log', lambda msg, *a, **k: logged.append(
        (msg, k)))
    args = train.parse_args([
        str(DET_ZOO), '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=4'
    ])
    cfg = train.build_config(args)
    assert _by_type(cfg, 'MultiStepLR').milestones == [8, 11]
    assert _by_type(cfg, 'LinearLR').end == 500
    warning = [m for m, k in logged if k.get('level') == logging.WARNING]
    assert len(warning) == 1 and '--scale-schedule' in warning[0]
    assert 'written for 12 epochs and this run has 4' in warning[0]


def test_iteration_schedule_scales_with_max_iters():
    cfg = Config.fromfile(str(SEG_ZOO))
    cfg.train_cfg.max_iters = 8000
    assert schedule_length(cfg) == 80000
    fit_schedule_to_run(cfg)
    assert _by_type(cfg, 'LinearLR').end == 100  # 1000 x 8000 / 80000
    assert _by_type(cfg, 'CosineAnnealingLR').end == 8000
    assert cfg.train_cfg.val_interval == 8000  # the zoo's 8000 fits


def test_scale_schedule_refuses_a_bad_length():
    cfg = Config(dict(train_cfg=dict(max_iters=10), param_scheduler=[]))
    with pytest.raises(ValueError, match='>= 1'):
        scale_schedule(cfg, 0)


class _Toy(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))

    def train_step(self, data, optim_wrapper):
        loss = (self.w * 0).sum() + self.w.abs().sum()
        optim_wrapper.update_params(loss)
        return dict(loss=loss)

    def val_step(self, data):
        return []

    def test_step(self, data):
        return []


def _lr_per_iteration(cfg, tmp_path, fit_to_epoch=True):
    """Train the toy model under ``cfg`` (schedule scaled as
    tools/train.py does) and return the lr of each iteration."""
    from mmengine.hooks import Hook
    from mmengine.runner import Runner
    cfg = Config(
        dict(
            model=_Toy(),
            work_dir=str(tmp_path),
            train_dataloader=dict(
                dataset=list(range(12)),
                # InfiniteSampler: MMEngine sleeps 2 s when an iteration
                # loop restarts a DefaultSampler's loader
                sampler=dict(
                    type='DefaultSampler'
                    if cfg['train_cfg'].get('by_epoch') else 'InfiniteSampler',
                    shuffle=False),
                collate_fn=dict(type='default_collate'),
                batch_size=2,
                num_workers=0),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=1e-4)),
            default_hooks=dict(logger=None, checkpoint=None),
            env_cfg=dict(dist_cfg=dict(backend='gloo')),
            log_level='WARNING',
            **cfg))
    fit_schedule_to_run(cfg)
    runner = Runner(**cfg)
    fit_warmup_to_epoch(runner)
    lrs = []

    class Record(Hook):
        priority = 'LOWEST'

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            lrs.append(runner.optim_wrapper.get_lr()['lr'][0])

    runner.register_hook(Record())
    runner.train()
    return lrs


def test_a_short_fine_tune_leaves_warm_up(tmp_path):
    """The 1x recipe on 12 samples, batch 2, 4 epochs (24 iterations):
    scaled, the 500-iteration warm-up (x 4/12 = 167, still longer than the
    run) ends with the first epoch, and the lr is the base lr from then on
    until the first (scaled) milestone, epoch 3."""
    base_lr = 1e-4
    lrs = _lr_per_iteration(
        dict(
            param_scheduler=[
                dict(
                    type='LinearLR',
                    start_factor=0.001,
                    by_epoch=False,
                    begin=0,
                    end=500),
                dict(
                    type='MultiStepLR',
                    begin=0,
                    end=12,
                    by_epoch=True,
                    milestones=[8, 11],
                    gamma=0.1)
            ],
            train_cfg=dict(by_epoch=True, max_epochs=4)), tmp_path)
    assert len(lrs) == 24
    assert lrs[0] == pytest.approx(base_lr * 0.001)
    assert all(a < b for a, b in zip(lrs[:6], lrs[1:6]))  # warming up
    assert lrs[5:18] == pytest.approx([base_lr] * 13)  # epochs 1-2
    assert lrs[18:] == pytest.approx([base_lr * 0.1] * 6)  # after epoch 3


def test_a_short_iteration_run_leaves_warm_up(tmp_path):
    """The Semantic FPN recipe (1000-iteration warm-up from 0.1x, cosine
    over 80k) cut to 20 iterations: 1000 x 20 / 80000 rounds to 0, and 1
    MMEngine's LinearLR never leaves (it reaches its end factor at step
    end - 1); the scaled warm-up spans 2 steps and the lr reaches the
    cosine curve of the base lr."""
    base_lr = 1e-4
    lrs = _lr_per_iteration(
        dict(
            param_scheduler=[
                dict(
                    type='LinearLR',
                    start_factor=0.1,
                    by_epoch=False,
                    begin=0,
                    end=1000),
                dict(
                    type='CosineAnnealingLR',
                    eta_min_ratio=1e-8,
                    by_epoch=False,
                    begin=0,
                    end=80000)
            ],
            train_cfg=dict(by_epoch=False, max_iters=20)), tmp_path)
    assert len(lrs) == 20
    assert lrs[0] == pytest.approx(base_lr * 0.1)
    cosine = [
        base_lr * (1 + math.cos(math.pi * step / 20)) / 2 for step in range(20)
    ]
    assert lrs[1:] == pytest.approx(cosine[1:], rel=1e-3, abs=1e-9)


DEMO_DET = CONFIGS / 'detection/demo/mask-rcnn_uniformer-tiny_fpn_synthetic.py'  # noqa: E501


def test_set_iter_budget():
    cfg = Config.fromfile(str(DEMO_DET))
    full = cfg.train_cfg.max_iters
    set_iter_budget(cfg, full // 5)
    assert cfg.train_cfg.max_iters == full // 5
    assert cfg.param_scheduler[-1].end == full // 5
    assert 0 < cfg.param_scheduler[0].end < full // 5
    assert cfg.default_hooks.checkpoint.interval == full // 5


def test_scaling_cuts_intervals_to_the_new_run():
    """Validation / checkpoint intervals longer than the scaled run end at
    it; a checkpoint interval of the whole old run follows the new length
    (a checkpoint at the end), shorter intervals stay."""
    cfg = Config(
        dict(
            train_cfg=dict(
                type='EpochBasedTrainLoop', max_epochs=12, val_interval=5),
            default_hooks=dict(checkpoint=dict(interval=12)),
            param_scheduler=[dict(type='MultiStepLR', milestones=[8, 11])]))
    scale_schedule(cfg, 3)
    assert cfg.train_cfg.val_interval == 3
    assert cfg.default_hooks.checkpoint.interval == 3
    assert cfg.param_scheduler[0]['milestones'] == [2, 3]
    cfg.train_cfg.val_interval = 2
    scale_schedule(cfg, 6)  # longer: the whole-run checkpoint follows
    assert cfg.train_cfg.val_interval == 2
    assert cfg.default_hooks.checkpoint.interval == 6
