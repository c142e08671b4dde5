"""Repeated augmentation (official ``AUG.NUM_SAMPLE 2``) on the zoo's own
train pipelines: a PyAV K400 batch and a raw-frame SSv1 batch hold 2 x B
samples, each clip decoded once and augmented twice, and mixup / cutmix act
on the whole repeated batch."""
import copy
import os.path as osp
import random

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from uniformer_mm.datasets.standin import make_standin_data

K400 = ('configs/video/uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_'
        'kinetics400-rgb.py')
STHV1 = 'configs/video/uniformer-s_k400-pre_8xb4-u16-60e_sthv1-rgb.py'
BATCH = 2  # clips
CLIPS = 3  # in the stand-in list: one batch, the last clip dropped


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    """One stand-in folder for the module (the stand-ins are written once
    per config and reused)."""
    return tmp_path_factory.mktemp('repeat_aug')


def _standin_loader_cfg(config, root):
    """The config's train dataloader on stand-in files (3 clips), one
    process, no shuffling."""
    cfg = Config.fromfile(config)
    tmp_path = root / osp.basename(config)[:-3]
    loader = copy.deepcopy(cfg.train_dataloader.to_dict())
    leaf = loader['dataset']['dataset']
    name = leaf['ann_file'].rsplit('/', 1)[-1]  # keeps the class count
    leaf['ann_file'] = str(tmp_path / name)
    key = 'img' if leaf['type'] == 'RawframeDataset' else 'video'
    leaf['data_prefix'] = {key: str(tmp_path / 'clips')}
    make_standin_data(leaf, scope='mmaction', num_samples=CLIPS, seed=1)
    loader.update(
        batch_size=BATCH,
        num_workers=0,
        persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=False))
    return cfg, loader


class _Spy:
    """Counts the calls of a transform class."""

    def __init__(self, monkeypatch, cls):
        self.decodes = 0
        original = cls.transform

        def counting(transform, results):
            self.decodes += 1
            return original(transform, results)

        monkeypatch.setattr(cls, 'transform', counting)


def _batch(config, decoder_name, root, monkeypatch):
    from mmaction.registry import TRANSFORMS
    cfg, loader_cfg = _standin_loader_cfg(config, root)
    spy = _Spy(monkeypatch, TRANSFORMS.get(decoder_name))
    with DefaultScope.overwrite_default_scope('mmaction'):
        loader = Runner.build_dataloader(loader_cfg, seed=0)
        wrapper = loader.dataset
        # what each repeat starts from (the decoded clip)
        inputs = []
        augment = wrapper.augment

        def recording(results):
            inputs.append((results['frame_inds'].copy(),
                           [img.copy() for img in results['imgs']]))
            return augment(results)

        wrapper.augment = recording
        batch = next(iter(loader))
    # official epoch: floor(clips / batch) steps (drop_last), each video
    # decoded once
    assert len(wrapper) == CLIPS and len(loader) == CLIPS // BATCH
    return cfg, wrapper, batch, inputs, spy


def _check_repeats(wrapper, batch, inputs, spy):
    samples = batch['data_samples']
    # 2 x B samples, clip by clip as the official collate flattens them
    assert len(batch['inputs']) == len(samples) == 2 * BATCH
    assert spy.decodes == BATCH  # decoded once per clip, not per sample
    assert len(inputs) == 2 * BATCH
    for clip in range(BATCH):
        first, second = 2 * clip, 2 * clip + 1
        # same clip: same label, same frame indices, same decoded frames
        assert int(samples[first].gt_label) == int(samples[second].gt_label)
        np.testing.assert_array_equal(inputs[first][0], inputs[second][0])
        for a, b in zip(inputs[first][1], inputs[second][1]):
            np.testing.assert_array_equal(a, b)
        # ... augmented independently: different pixels
        assert batch['inputs'][first].shape == batch['inputs'][second].shape
        assert not torch.equal(batch['inputs'][first], batch['inputs'][second])
    # the two clips are different videos
    assert int(samples[0].gt_label) != int(samples[2].gt_label)


def test_k400_pyav_batch_repeats_each_decoded_clip(root, monkeypatch):
    cfg, wrapper, batch, inputs, spy = _batch(K400, 'CheckedPyAVDecode', root,
                                              monkeypatch)
    assert batch['inputs'][0].shape == (1, 3, 16, 224, 224)
    assert [type(t).__name__ for t in wrapper.decode.transforms] == [
        'CheckedPyAVInit', 'SlowFastSampleFrames', 'CheckedPyAVDecode'
    ]
    _check_repeats(wrapper, batch, inputs, spy)

    # mixup over the 2 x B batch, against mixup computed here
    from mmaction.registry import MODELS
    preprocessor_cfg = copy.deepcopy(cfg.model.data_preprocessor.to_dict())
    classes = cfg.model.cls_head.num_classes
    preprocessor_cfg['blending'] = dict(
        type='MixupBlending', alpha=0.8, num_classes=classes)
    with DefaultScope.overwrite_default_scope('mmaction'):
        preprocessor = MODELS.build(preprocessor_cfg)
    plain = preprocessor(copy.deepcopy(batch), training=False)['inputs']
    torch.manual_seed(7)
    lam = torch.distributions.Beta(0.8, 0.8).sample()
    perm = torch.randperm(2 * BATCH)
    torch.manual_seed(7)
    mixed = preprocessor(copy.deepcopy(batch), training=True)
    assert mixed['inputs'].shape[0] == 2 * BATCH
    torch.testing.assert_close(mixed['inputs'],
                               lam * plain + (1 - lam) * plain[perm])
    labels = torch.stack([s.gt_label for s in mixed['data_samples']
                          ]).reshape(2 * BATCH, -1)
    one_hot = torch.nn.functional.one_hot(
        torch.cat([s.gt_label for s in batch['data_samples']]),
        classes).float()
    torch.testing.assert_close(labels,
                               lam * one_hot + (1 - lam) * one_hot[perm])

    # the config's own mixup / cutmix choice also keeps the 2 x B batch
    with DefaultScope.overwrite_default_scope('mmaction'):
        own = MODELS.build(cfg.model.data_preprocessor)
    out = own(copy.deepcopy(batch), training=True)
    assert out['inputs'].shape[0] == len(out['data_samples']) == 2 * BATCH


def test_sthv1_rawframe_batch_repeats_each_decoded_clip(root, monkeypatch):
    _, wrapper, batch, inputs, spy = _batch(STHV1, 'CheckedRawFrameDecode',
                                            root, monkeypatch)
    assert batch['inputs'][0].shape == (1, 3, 16, 224, 224)
    assert [type(t).__name__ for t in wrapper.decode.transforms
            ] == ['UniformSample', 'CheckedRawFrameDecode']
    _check_repeats(wrapper, batch, inputs, spy)


def test_first_repeat_is_the_plain_pipeline_and_copies_are_private(
        root, monkeypatch):
    """Seeded alike, the first repeat is what the unwrapped dataset gives
    (same random draws: the split changes nothing); a transform writing
    into the frames in place does not reach the other repeat."""
    from mmaction.registry import TRANSFORMS
    _, loader_cfg = _standin_loader_cfg(K400, root)
    with DefaultScope.overwrite_default_scope('mmaction'):
        wrapper = Runner.build_dataloader(loader_cfg).dataset

    def seeded(index, dataset):
        # MMAction2's crops draw from both generators
        random.seed(3)
        np.random.seed(3)
        return dataset[index]

    plain = seeded(1, wrapper.dataset)
    first, second = seeded(1, wrapper)
    assert torch.equal(first['inputs'], plain['inputs'])
    assert not torch.equal(first['inputs'], second['inputs'])

    # fault injection: the first transform after decoding scribbles on
    # the frames it gets; each repeat must still start from clean frames
    seen = []
    cls = TRANSFORMS.get('ClipRandAugment')
    original = cls.transform

    def scribble(transform, results):
        seen.append(int(results['imgs'][0][0, 0, 0]))
        results['imgs'][0][0, 0, 0] = 255 - seen[-1]
        return original(transform, results)

    monkeypatch.setattr(cls, 'transform', scribble)
    wrapper[1]
    assert len(seen) == 2 and seen[0] == seen[1]


def test_bad_arguments_are_named(root):
    from uniformer_mm.datasets.repeat_aug import RepeatAugVideoDataset
    _, loader_cfg = _standin_loader_cfg(K400, root)
    leaf = loader_cfg['dataset']['dataset']
    with DefaultScope.overwrite_default_scope('mmaction'):
        with pytest.raises(ValueError, match='num_repeats'):
            RepeatAugVideoDataset(leaf, num_repeats=0)
        with pytest.raises(ValueError, match='test_mode=True'):
            RepeatAugVideoDataset(dict(leaf, test_mode=True))
        no_decoder = dict(leaf, pipeline=leaf['pipeline'][:2])
        with pytest.raises(ValueError, match='no decoding transform'):
            RepeatAugVideoDataset(no_decoder)
        nothing_after = dict(leaf, pipeline=leaf['pipeline'][:3])
        with pytest.raises(ValueError, match='nothing follows'):
            RepeatAugVideoDataset(nothing_after)
