"""The fine-tuning templates under configs/<task>/custom/ and
:mod:`uniformer_mm.checkpoints.finetune`.

End to end (slow): for each template, a checkpoint of the zoo model it
inherits (random weights, written as tools/convert_official.py writes:
``{'state_dict', 'meta'}``), with a class count unlike the template's, is
its ``load_from``; :func:`dry_run` trains on stand-in data in the template's
own layout and classes, resumes and tests. The weights right after loading
(a hook saves them before the first iteration) must equal the checkpoint's
except the class-specific tensors, which keep the template model's shapes,
and the training log names each skipped tensor with both shapes.

Fast: the loader itself on zoo / template model pairs, including the errors
for a checkpoint of another backbone and for testing with heads of another
class count.
"""
import glob
import os.path as osp
import re
import shutil
from pathlib import Path

import pytest
import torch
from conftest import CONFIGS
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from uniformer_mm.analysis.build import build_model_from_config
from uniformer_mm.checkpoints.finetune import (CheckpointMismatchError,
                                               load_finetune_state)
from uniformer_mm.engine.dry_run import dry_run

# template -> (the zoo config it inherits, its class-specific tensors and
# the template's class count; the zoo's differs)
TEMPLATES = {
    'detection/custom/mask-rcnn_uniformer-xxs_fpn_1x_custom-coco.py':
    ('detection/mask-rcnn_uniformer-xxs_fpn_1x_coco.py', {
        'roi_head.bbox_head.fc_cls.weight': ((81, 1024), (4, 1024)),
        'roi_head.bbox_head.fc_cls.bias': ((81, ), (4, )),
        'roi_head.bbox_head.fc_reg.weight': ((320, 1024), (12, 1024)),
        'roi_head.bbox_head.fc_reg.bias': ((320, ), (12, )),
        'roi_head.mask_head.conv_logits.weight':
        ((80, 256, 1, 1), (3, 256, 1, 1)),
        'roi_head.mask_head.conv_logits.bias': ((80, ), (3, )),
    }, 'coco/bbox_mAP'),
    'segmentation/custom/fpn_uniformer-xxs_80k_custom-ade-512x512.py':
    ('segmentation/fpn_uniformer-xxs_8xb4-80k_ade20k-512x512.py', {
        'decode_head.conv_seg.weight': ((150, 128, 1, 1), (5, 128, 1, 1)),
        'decode_head.conv_seg.bias': ((150, ), (5, )),
    }, 'mIoU'),
    'video/custom/uniformer-xxs-res128_u4_custom-video-list-rgb.py': (
        'video/light/uniformer-xxs-res128_imagenet1k-pre_8xb32-u4-110e_'
        'kinetics400-rgb.py',
        {
            'cls_head.fc_cls.weight': ((400, 448), (7, 448)),
            'cls_head.fc_cls.bias': ((400, ), (7, )),
            # the class-token classifier of the hourglass models
            'cls_head.fc_cls_token.weight': ((400, 448), (7, 448)),
            'cls_head.fc_cls_token.bias': ((400, ), (7, )),
        },
        'acc/top1'),
    # the template keeps COCO's 17 keypoints: nothing to skip end to end;
    # another keypoint count is test_keypoint_count_change below
    'pose/custom/td-hm_uniformer-s_256x192_custom-coco-keypoints.py':
    ('pose/td-hm_uniformer-s_8xb128-210e_coco-256x192.py', {}, 'coco/AP'),
}


@HOOKS.register_module(force=True)
class _SaveWeightsBeforeTrainHook(Hook):
    """Saves the model's state right after ``load_from`` was applied (the
    first ``before_train``; the resumed run's is ignored)."""

    def __init__(self, path):
        self.path = path

    def before_train(self, runner):
        if not osp.exists(self.path):
            model = getattr(runner.model, 'module', runner.model)
            torch.save(
                {
                    k: v.detach().clone()
                    for k, v in model.state_dict().items()
                }, self.path)


def _model(config, **options):
    cfg = Config.fromfile(str(CONFIGS / config))
    cfg.merge_from_dict(dict({'model.backbone.init_cfg': None}, **options))
    model, _ = build_model_from_config(cfg)
    model.init_weights()
    return model.eval()


def _write_converted(zoo, path):
    """A converted-official-style file of the zoo model, random weights."""
    torch.manual_seed(0)
    state = _model(zoo).state_dict()
    torch.save(
        {
            'state_dict': state,
            'meta': {
                'config': f'configs/{zoo}',
                'dataset_meta': {
                    'classes': ['zoo']
                }
            }
        }, path)
    return state


def test_templates_inherit_their_zoo_config():
    for template, (zoo, skipped, _) in TEMPLATES.items():
        text = (CONFIGS / template).read_text()
        # by package name, so that a copy works from any folder
        base = re.search(r"^_base_ = '([^']+)'", text, re.M).group(1)
        assert base == f'uniformer_mm::{zoo}', template
        path, _ = Config._get_cfg_path(base, str(CONFIGS / template))
        assert Path(path).resolve() == (CONFIGS / zoo).resolve(), template
        cfg = Config.fromfile(str(CONFIGS / template))
        assert cfg.runner_type == 'FineTuneRunner'
        # names resolve in the codebase's registries (default_scope), not
        # in a 'uniformer_mm' scope MMEngine gives package:: bases
        assert cfg.model.get('_scope_') in (None, cfg.default_scope)
        assert cfg.train_dataloader.dataset.get('_scope_') in (
            None, cfg.default_scope)
        # start_from = the zoo model: load_from brings the backbone
        assert cfg.model.backbone.init_cfg is None
        assert cfg.load_from.startswith('checkpoints/')
        assert cfg.auto_scale_lr.base_batch_size > 0
        # the zoo's own imports kept, the runner's module added
        zoo_imports = Config.fromfile(
            str(CONFIGS / zoo),
            import_custom_modules=False).custom_imports.imports
        assert set(cfg.custom_imports.imports) == set(zoo_imports) | {
            'uniformer_mm.checkpoints.finetune'
        }


@pytest.mark.slow
@pytest.mark.parametrize('template', sorted(TEMPLATES))
def test_finetune_end_to_end(template, tmp_path):
    zoo, expected, metric = TEMPLATES[template]
    ckpt = tmp_path / 'zoo_converted.pth'
    zoo_state = _write_converted(zoo, ckpt)
    after_load = tmp_path / 'after_load.pth'
    cfg = Config.fromfile(str(CONFIGS / template))
    cfg.load_from = str(ckpt)
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type='_SaveWeightsBeforeTrainHook', path=str(after_load))
    ]
    work_dir = tmp_path / 'work'
    lines = []
    try:
        result = dry_run(
            cfg,
            work_dir=str(work_dir),
            standin_dir=str(tmp_path / 'standin'),
            iters=1,
            small_inputs=True,
            report=lines.append)
        log = '\n'.join(
            Path(p).read_text()
            for p in glob.glob(str(work_dir / '**' / '*.log'), recursive=True))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    print(result.summary())
    assert result.ok, result.summary() + '\n' + '\n'.join(lines[-40:])
    assert any(k.endswith(metric) for k in result.metrics), result.metrics

    loaded = torch.load(after_load)
    assert loaded.keys() == zoo_state.keys()
    for name, value in zoo_state.items():
        if name in expected:
            theirs, ours = expected[name]
            assert tuple(value.shape) == theirs, name
            assert tuple(loaded[name].shape) == ours, name
            if value.dim() > 1:  # (biases start at 0 in both)
                # the model's own init, not the checkpoint's first rows
                assert not torch.equal(loaded[name], value[:ours[0]]), name
        else:
            assert torch.equal(loaded[name], value), name
    skipped_lines = re.findall(r'load_from: skipped .*', log)
    assert len(skipped_lines) == len(expected), skipped_lines
    for name, (theirs, ours) in expected.items():
        assert any(f'skipped {name}: checkpoint shape {list(theirs)}, model '
                   f'shape {list(ours)}: ' in line
                   for line in skipped_lines), (name, skipped_lines)
    total = len(zoo_state)
    assert (f'{total - len(expected)} of {total} tensors loaded from '
            f'{ckpt}, {len(expected)} skipped') in log
    # resume and test load the run's own checkpoints, every tensor
    own = re.escape(str(work_dir))
    assert len(
        re.findall(
            f'{total} of {total} tensors loaded from {own}'
            r'/\w+\.pth, 0 skipped', log)) == 2, log


@pytest.fixture(scope='module')
def seg_pair():
    zoo = TEMPLATES[
        'segmentation/custom/fpn_uniformer-xxs_80k_custom-ade-512x512.py'][0]
    torch.manual_seed(0)
    state = _model(zoo).state_dict()
    return state, _model(
        'segmentation/custom/fpn_uniformer-xxs_80k_custom-ade-512x512.py')


def test_loader_skips_only_class_specific(seg_pair):
    state, model = seg_pair
    init = {k: v.clone() for k, v in model.state_dict().items()}
    report = load_finetune_state(model, state)
    assert [s.name for s in report.skipped
            ] == ['decode_head.conv_seg.weight', 'decode_head.conv_seg.bias']
    assert report.skipped[0].checkpoint_shape == (150, 128, 1, 1)
    assert report.skipped[0].model_shape == (5, 128, 1, 1)
    assert 'checkpoint 150, model 5' in report.skipped[0].reason
    now = model.state_dict()
    for name in now:
        if name.startswith('decode_head.conv_seg.'):
            assert torch.equal(now[name], init[name])
        else:
            assert torch.equal(now[name], state[name]), name
    assert len(report.loaded) == len(now) - 2


def test_loader_refuses_another_backbone(seg_pair):
    state, model = seg_pair
    bad = dict(state)
    name = next(
        k for k in bad if k.startswith('backbone.') and bad[k].dim() == 4)
    bad[name] = torch.zeros((bad[name].shape[0] + 8, ) +
                            tuple(bad[name].shape[1:]))
    with pytest.raises(CheckpointMismatchError, match=re.escape(name)):
        load_finetune_state(model, bad)
    missing = {k: v for k, v in state.items() if not k.startswith('neck.')}
    with pytest.raises(
            CheckpointMismatchError,
            match='model has and the checkpoint lacks:\n  neck.'):
        load_finetune_state(model, missing)


def test_loader_refuses_other_heads_when_testing(seg_pair):
    state, model = seg_pair
    with pytest.raises(
            CheckpointMismatchError,
            match=r'decode_head.conv_seg.weight: checkpoint '
            r'\[150, 128, 1, 1\], model \[5, 128, 1, 1\]'):
        load_finetune_state(model, state, allow_class_change=False)


def test_keypoint_count_change():
    template = 'pose/custom/td-hm_uniformer-s_256x192_custom-coco-keypoints.py'
    torch.manual_seed(0)
    state = _model(TEMPLATES[template][0]).state_dict()
    model = _model(template, **{'model.head.out_channels': 5})
    report = load_finetune_state(model, state)
    assert [(s.name, s.checkpoint_shape, s.model_shape)
            for s in report.skipped] == [
                ('head.final_layer.weight', (17, 256, 1, 1), (5, 256, 1, 1)),
                ('head.final_layer.bias', (17, ), (5, )),
            ]
    assert report.skipped[0].reason == (
        'keypoints differ (head: checkpoint 17, model 5; rows = keypoints)')


def test_runner_loads_strictly_outside_training(seg_pair, tmp_path):
    """``runner.test()`` / ``val()`` / resuming reach ``load_checkpoint``
    outside ``train()``: heads of another class count are refused there."""
    from uniformer_mm.checkpoints.finetune import FineTuneRunner
    state, model = seg_pair
    ckpt = tmp_path / 'zoo.pth'
    torch.save({'state_dict': state, 'meta': {}}, ckpt)
    runner = FineTuneRunner(
        model=model,
        work_dir=str(tmp_path / 'work'),
        experiment_name=f'strict_{tmp_path.name}')
    with pytest.raises(
            CheckpointMismatchError, match='decode_head.conv_seg.weight'):
        runner.load_checkpoint(str(ckpt))
    with pytest.raises(
            CheckpointMismatchError, match='decode_head.conv_seg.weight'):
        runner.resume(str(ckpt))
    own = tmp_path / 'own.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, own)
    runner.load_checkpoint(str(own))
    assert runner.finetune_report.skipped == []
    assert len(runner.finetune_report.loaded) == len(model.state_dict())
