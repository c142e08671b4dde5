"""tools/dry_run.py: what it changes in a config, where it puts stand-ins,
how it reports failure. (Every zoo config runs end to end in
tests/configs/test_zoo_dry_run.py.)"""
import os.path as osp
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from uniformer_mm.compat.mmengine_format_once import format_each_config_once
from uniformer_mm.engine import dry_run as dr
from uniformer_mm.engine.dry_run import (base, own_data, run, standin_data,
                                         standin_weights)

ROOT = Path(__file__).resolve().parents[2]
UPERNET = ROOT / 'configs/segmentation/' \
    'upernet_uniformer-s-h14_8xb2-160k_ade20k-512x512.py'
VIDEO = ROOT / 'configs/video/' \
    'uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_kinetics400-rgb.py'
STH = ROOT / 'configs/video/uniformer-s_k400-pre_8xb4-u16-50e_sthv2-rgb.py'
POSE = ROOT / 'configs/pose/td-hm_uniformer-s_8xb128-210e_coco-256x192.py'


def _prepare(path, **kwargs):
    changes = base.Changes(lambda line: None)
    cfg, batch, samples = run._prepare(
        str(path), '/tmp/work', 2, kwargs.pop('small', False), None, changes)
    return cfg, batch, samples, changes.items


def test_dataset_paths_move_under_the_standin_root():
    with_root = dict(
        data_root='data/coco/',
        ann_file='annotations/a.json',
        data_prefix=dict(img='train2017/'),
        bbox_file='data/coco/person_detection_results/d.json')
    standin_data.rebase_dataset(with_root, '/s')
    assert with_root == dict(
        data_root='/s/data/coco/',
        ann_file='annotations/a.json',
        data_prefix=dict(img='train2017/'),
        bbox_file='/s/data/coco/person_detection_results/d.json')
    no_root = dict(
        ann_file='data/k400/list.txt', data_prefix=dict(video='/abs/videos'))
    standin_data.rebase_dataset(no_root, '/s')
    assert no_root == dict(
        ann_file='/s/data/k400/list.txt',
        data_prefix=dict(video='/s/abs/videos'))
    with pytest.raises(dr.DryRunError, match='remote'):
        standin_data.rebase_dataset(
            dict(ann_file='s3://bucket/list.txt'), '/s')


def test_cpu_changes_of_a_segmentation_config():
    cfg, batch, samples, changes = _prepare(UPERNET)
    assert batch == 2 and samples == 2
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.val_dataloader.batch_size == cfg.test_dataloader.batch_size == 1
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[key].num_workers == 0
        assert not cfg[key].get('persistent_workers')
    # SyncBN -> BN everywhere in the model, and said so
    norms = [
        node['type'] for _, node in base.walk(cfg.model)
        if node.get('type') in ('SyncBN', 'BN')
    ]
    assert norms and set(norms) == {'BN'}
    assert any(c.startswith('SyncBN -> BN') for c in changes)
    assert cfg.train_cfg.max_iters == 2 and cfg.train_cfg.val_interval == 2
    assert cfg.default_hooks.checkpoint.interval == 2
    assert any('WeightsOnlyCheckpointHook' == h['type']
               for h in cfg.custom_hooks)
    # a user's dry run keeps the config's own scales
    assert cfg.model.data_preprocessor.size == (512, 512)


@pytest.mark.parametrize('path', [UPERNET, VIDEO, POSE])
def test_dry_run_trains_with_the_hooks_train_py_adds(path):
    """Atomic saves, preemption, non-finite loss and class-count checks run
    in the dry run as in tools/train.py, once each."""
    cfg, *_ = _prepare(path)
    assert cfg.default_hooks.checkpoint.type == 'SafeCheckpointHook'
    types = [hook['type'] for hook in cfg.custom_hooks]
    for name in ('PreemptionHook', 'NonFiniteLossHook', 'ClassCountCheckHook'):
        assert types.count(name) == 1, types


@pytest.mark.skipif(torch.cuda.is_available(), reason='AMP stays on CUDA')
def test_amp_becomes_fp32_without_cuda():
    cfg, _, _, changes = _prepare(VIDEO)
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=20, norm_type=2)
    assert any('AmpOptimWrapper -> OptimWrapper' in c for c in changes)
    # epoch-based: one epoch of exactly 2 iterations, then validation
    assert cfg.train_cfg.max_epochs == 1
    # on the dataset inside RepeatAugVideoDataset
    assert cfg.train_dataloader.dataset.dataset.indices == 4


def test_detector_keeps_its_detections_and_runners_their_own_visualizer():
    cfg, _, _, changes = _prepare(
        ROOT / 'configs/detection/mask-rcnn_uniformer-s-h14_fpn_1x_coco.py')
    assert cfg.model.test_cfg.rcnn.score_thr == 0
    assert any('score_thr 0.05 -> 0' in c for c in changes)
    # MMEngine looks visualizers up by name process-wide: one per phase
    names = {
        run._runner_cfg(cfg, phase).visualizer.name
        for phase in ('train', 'resume', 'test')
    }
    assert len(names) == 3 and cfg.visualizer.name == 'visualizer'


def test_small_inputs_shrink_video_sizes_clips_and_views():
    cfg, _, samples, changes = _prepare(STH, small=True)
    assert samples == 1
    steps = {t['type']: t for t in cfg.test_dataloader.dataset.pipeline}
    assert steps['UniformSample']['clip_len'] == 8
    assert steps['Resize']['scale'] == (-1, 64)
    assert steps['ThreeCrop']['crop_size'] == 64
    train = {
        t['type']: t
        for t in cfg.train_dataloader.dataset.dataset.pipeline
    }
    assert train['Resize']['scale'] == (64, 64)
    assert any('CI mode' in c for c in changes)
    k400, _, _, _ = _prepare(VIDEO, small=True)
    sampler = k400.test_dataloader.dataset.pipeline[1]
    assert sampler['num_clips'] == 2 and sampler['clip_len'] == 8


def test_pose_keeps_its_codec_sizes_in_small_mode():
    cfg, _, _, _ = _prepare(POSE, small=True)
    assert cfg.codec['input_size'] == (192, 256)
    affine = [
        t for t in cfg.test_dataloader.dataset.pipeline
        if t['type'] == 'TopdownAffine'
    ][0]
    assert tuple(affine['input_size']) == (192, 256)


def test_each_config_text_is_formatted_once_with_the_same_result():
    import mmengine.config.config as config_module
    original = config_module.FormatCode
    calls = []

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    cfg = Config(dict(model=dict(type='X', depth=[3, 4, 8, 3]), lr=0.1))
    other = Config(dict(model=dict(type='Y')))
    config_module.FormatCode = counting
    try:
        plain = cfg.pretty_text
        with format_each_config_once():
            texts = [cfg.pretty_text for _ in range(5)]
            other_text = other.pretty_text
        assert config_module.FormatCode is counting  # restored on exit
    finally:
        config_module.FormatCode = original
    assert texts == [plain] * 5 and other_text != plain
    # one call outside, then one per distinct text inside
    assert len(calls) == 3


def test_format_patch_does_nothing_on_unchecked_mmengine(monkeypatch):
    import mmengine
    import mmengine.config.config as config_module
    original = config_module.FormatCode
    monkeypatch.setattr(mmengine, '__version__', '0.11.0')
    with format_each_config_once():
        assert config_module.FormatCode is original
    monkeypatch.setattr(mmengine, '__version__', '0.10.7')
    with format_each_config_once():
        assert config_module.FormatCode is not original
    assert config_module.FormatCode is original


def test_standin_weights_never_replace_a_real_file(tmp_path):
    real = tmp_path / 'uniformer_small_in1k.pth'
    real.write_bytes(b'not loaded here')
    cfg = Config(
        dict(
            model=dict(
                backbone=dict(
                    type='UniFormer',
                    arch='small',
                    init_cfg=dict(type='Pretrained', checkpoint=str(real))))))
    lines = []
    standin_weights.standin_weights(cfg, str(tmp_path / 'w'),
                                    base.Changes(lines.append))
    assert cfg.model.backbone.init_cfg.checkpoint == str(real)
    assert lines == [
        f'change: model.backbone.init_cfg: the real {real} '
        'is used'
    ]


def test_standin_weights_have_the_official_layout(tmp_path):
    cfg = Config(
        dict(
            model=dict(
                backbone=dict(
                    type='UniFormer3D',
                    arch='s',
                    init_cfg=dict(
                        type='Pretrained',
                        checkpoint='checkpoints/uniformer_small_k600_16x4.pth')
                ))))
    standin_weights.standin_weights(cfg, str(tmp_path),
                                    base.Changes(lambda line: None))
    path = cfg.model.backbone.init_cfg.checkpoint
    assert osp.basename(path) == \
        'RANDOM-STANDIN_uniformer_small_k600_16x4.pth'
    state = torch.load(path, weights_only=True)['model_state']
    from uniformer_mm.checkpoints import official_state_dict_shapes
    shapes = official_state_dict_shapes('video_small')
    assert set(state) == set(shapes)
    assert list(state['head.weight'].shape) == [600, 512]  # K600 file
    assert list(state['blocks3.0.attn.qkv.weight'].shape) == \
        shapes['blocks3.0.attn.qkv.weight']


def test_unknown_layout_is_refused_with_the_fix():
    backbone = dict(type='UniFormer', arch=dict(depths=[1, 1, 1, 1]))
    with pytest.raises(dr.DryRunError, match='init_cfg=None'):
        standin_weights.write_standin_weights(backbone, 'mine.pth',
                                              '/nonexistent/x')


def test_failure_is_one_line_naming_the_stage(tmp_path):
    cfg = Config.fromfile(str(UPERNET))
    cfg.default_scope = 'mmfoo'
    result = dr.dry_run(cfg, work_dir=str(tmp_path), report=lambda _: None)
    assert not result.ok
    assert result.summary().startswith('dry-run FAILED at config: ')
    assert 'mmfoo' in result.summary()


def test_cli_exit_status_and_last_line(tmp_path):
    bad = tmp_path / 'no_train.py'
    bad.write_text("default_scope = 'mmseg'\n")
    proc = subprocess.run([
        sys.executable,
        str(ROOT / 'tools/dry_run.py'),
        str(bad), '--work-dir',
        str(tmp_path / 'w')
    ],
                          capture_output=True,
                          text=True,
                          cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == \
        'dry-run FAILED at config: the config has no train_dataloader'


def _own_coco_set(root, names):
    import json

    import cv2
    import numpy as np
    (root / 'annotations').mkdir(parents=True)
    for split in ('train', 'val'):
        (root / split).mkdir()
        cv2.imwrite(
            str(root / split / 'a.jpg'), np.zeros((32, 32, 3), np.uint8))
        (root / 'annotations' / f'{split}.json').write_text(
            json.dumps(
                dict(
                    images=[
                        dict(id=1, file_name='a.jpg', width=32, height=32)
                    ],
                    annotations=[
                        dict(
                            id=1,
                            image_id=1,
                            category_id=7,
                            bbox=[4, 4, 10, 10],
                            area=100,
                            iscrowd=0,
                            segmentation=[[4, 4, 14, 4, 14, 14, 4, 14]])
                    ],
                    categories=[
                        dict(id=5 + 2 * i, name=n) for i, n in enumerate(names)
                    ])))


def test_own_data_checks_files_and_classes(tmp_path):
    """--own-data: a class that is no category of the json stops the run at
    the data stage naming both lists; a missing file names the file."""
    template = ROOT / 'configs' / 'detection' / 'custom' / \
        'mask-rcnn_uniformer-xxs_fpn_1x_custom-coco.py'
    _own_coco_set(tmp_path / 'shapes', ['red', 'green', 'blue'])
    cfg = Config.fromfile(str(template))
    run.set_data_root(cfg, str(tmp_path / 'shapes'))
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='PackDetInputs')
    ]
    lines = []
    change = base.Changes(lines.append)
    with pytest.raises(
            dr.DryRunError,
            match=r"classes \['cat', 'dog', "
            r"'bird'\] of the config are not categories of .*"
            r"train.json \(its categories: \['red', 'green', "
            r"'blue'\]\)"):
        own_data.check_own_data(cfg, 1, lines.append, change)
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.metainfo = dict(
            classes=('red', 'green', 'blue'))
    own_data.check_own_data(cfg, 1, lines.append, change)
    assert any('own data: train: 1 samples, 3 classes' in line
               for line in lines)
    (tmp_path / 'shapes' / 'annotations' / 'val.json').unlink()
    with pytest.raises(dr.DryRunError, match='val.json'):
        own_data.check_own_data(cfg, 1, lines.append, change)


SEG_XXS = ROOT / 'configs/segmentation/fpn_uniformer-xxs_8xb4-80k_ade20k-512x512.py'  # noqa: E501


def _truncate_checkpoint_of(stage_name, monkeypatch):
    """The checkpoint written by ``stage_name`` is cut to 1000 bytes right
    after the stage (a disk that filled up, a copy that stopped)."""
    train = run._train

    def train_then_truncate(cfg, stage, until, previous):
        path = train(cfg, stage, until, previous)
        if stage == stage_name:
            with open(path, 'r+b') as f:
                f.truncate(1000)
        return path

    monkeypatch.setattr(run, '_train', train_then_truncate)


@pytest.mark.slow
@pytest.mark.parametrize(
    'stage, provoke, reason',
    [
        ('data', dict(own_data=True, data_root='nowhere'), 'nowhere'),
        (
            'weights',
            dict(
                cfg_options={
                    'model.backbone.arch':
                    # a custom size: no official file to stand in for
                    dict(_delete_=True, depths=[1, 1, 1, 1])
                }),
            'no official layout known'),
        ('train',
         dict(cfg_options={
             'model.decode_head.loss_decode': dict(type='NoSuchLoss')
         }), 'NoSuchLoss'),
        ('resume', 'train', 'iter_1.pth'),
        ('test', 'resume', 'iter_2.pth')
    ])
def test_each_stage_failure_is_named(stage, provoke, reason, tmp_path,
                                     monkeypatch):
    """Every stage of the dry run, made to fail by a real fault, is the one
    the result names, with the cause in the reason."""
    if isinstance(provoke, str):  # a truncated checkpoint of that stage
        _truncate_checkpoint_of(provoke, monkeypatch)
        provoke = {}
    result = dr.dry_run(
        str(SEG_XXS),
        work_dir=str(tmp_path / 'work'),
        iters=1,
        small_inputs=True,
        report=lambda _: None,
        **provoke)
    assert not result.ok
    assert result.stage == stage, result.summary()
    assert reason in result.summary()
