"""The head_dim guard trusts only what a file records: the official model
names and config text, never a prefix of a name."""
import argparse
import logging

import pytest
import torch
from mmengine.logging import MMLogger

from uniformer_mm.checkpoints import load_pretrained
from uniformer_mm.checkpoints.backbone import head_dim_from_metadata
from uniformer_mm.models import UniFormer
from uniformer_mm.models.arch import ARCH_ZOO_2D, OFFICIAL_IMAGENET_NAMES


def _imagenet_file(path, model, name, token_labeling=False):
    weights = {
        k: v
        for k, v in model.state_dict().items()
        if not k.startswith(('norm1', 'norm2', 'norm3', 'norm4'))
    }
    weights['head.weight'] = torch.rand(1000, 256)
    weights['head.bias'] = torch.rand(1000)
    if token_labeling:
        weights['aux_head.weight'] = torch.rand(1000, 256)
        weights['aux_head.bias'] = torch.rand(1000)
    torch.save({
        'model': weights,
        'args': argparse.Namespace(model=name)
    }, path)
    return weights


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def log_records():
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


@pytest.mark.parametrize('name', [
    'uniformer_tiny_custom', 'uniformer_', 'uniformer_small_custom', 'my_net'
])
def test_own_model_name_records_no_head_dim(name):
    ckpt = {
        'model': {
            'head.weight': torch.zeros(1)
        },
        'args': argparse.Namespace(model=name)
    }
    assert head_dim_from_metadata(ckpt) is None


def test_own_name_with_head_dim_32_loads_on_shapes_with_a_log_line(
        tmp_path, log_records):
    """A file the user trained with the official ImageNet code under their
    own name (head_dim 32) loads into a head_dim 32 model."""
    source = UniFormer(dict(ARCH_ZOO_2D['test'], head_dim=32))
    weights = _imagenet_file(tmp_path / 'own.pth', source,
                             'uniformer_tiny_custom')
    model = UniFormer(dict(ARCH_ZOO_2D['test'], head_dim=32))
    stats = load_pretrained(model, str(tmp_path / 'own.pth'))
    assert stats['skipped'] == 2  # the head
    for key, value in model.state_dict().items():
        if key in weights:
            assert torch.equal(value, weights[key]), key
    notes = [m for m in log_records if 'head_dim could not be checked' in m]
    assert len(notes) == 1
    assert "args.model='uniformer_tiny_custom'" in notes[0]
    assert 'head_dim=32' in notes[0]


@pytest.mark.parametrize('name, token_labeling, head_dim', [
    ('uniformer_small', False, 64),
    ('uniformer_small', True, 32),
    ('uniformer_small_plus', False, 32),
    ('uniformer_base_dim64', True, 64),
])
def test_official_name_with_other_head_dim_is_refused(tmp_path, name,
                                                      token_labeling,
                                                      head_dim):
    other = 32 if head_dim == 64 else 64
    source = UniFormer(dict(ARCH_ZOO_2D['test'], head_dim=head_dim))
    _imagenet_file(tmp_path / 'in1k.pth', source, name, token_labeling)
    with pytest.raises(
            ValueError,
            match=f'trained with head_dim={head_dim} .*'
            f'has head_dim={other}.*-hd32'):
        load_pretrained(
            UniFormer(dict(ARCH_ZOO_2D['test'], head_dim=other)),
            str(tmp_path / 'in1k.pth'))
    # and the matching head_dim loads, without the "not checked" note
    load_pretrained(
        UniFormer(dict(ARCH_ZOO_2D['test'], head_dim=head_dim)),
        str(tmp_path / 'in1k.pth'))


def test_unreleased_combination_is_not_guessed():
    """``*_dim64`` exists only as token labeling; in the plain ImageNet
    layout the name records nothing."""
    assert OFFICIAL_IMAGENET_NAMES['uniformer_small_dim64'][0] is None
    ckpt = {
        'model': {
            'head.weight': torch.zeros(1)
        },
        'args': argparse.Namespace(model='uniformer_small_dim64')
    }
    assert head_dim_from_metadata(ckpt) is None
    ckpt['model']['aux_head.weight'] = torch.zeros(1)
    assert head_dim_from_metadata(ckpt) == (
        64, "args.model='uniformer_small_dim64'")
