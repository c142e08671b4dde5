"""The whole-model video converter fed files in the official SlowFast layout
as the official code writes them (recorded in ``tests/fixtures/official``:
heads, the hourglass class-token classifier, ``cfg``), not our own
state dicts; the converted backbone must give the official outputs."""
import pytest
import torch
from official_fixtures import BACKBONES, assert_matches, load_fixture

from uniformer_mm.checkpoints.video import convert_slowfast_to_recognizer


@pytest.mark.parametrize(
    'name',
    ['uniformer_video', 'uniformer_light_video', 'uniformer_light_video_ls'])
def test_slowfast_files_convert_to_the_official_model(name):
    fixture = load_fixture(name)
    official = fixture['checkpoint']['model_state']
    converted = convert_slowfast_to_recognizer(fixture['checkpoint'])
    head = {k: v for k, v in converted.items() if k.startswith('cls_head.')}
    # the video classifier is the recognizer's head, as it was
    assert torch.equal(
        head.pop('cls_head.fc_cls.weight'), official['head.weight'])
    assert torch.equal(head.pop('cls_head.fc_cls.bias'), official['head.bias'])
    # anything else of the head is the hourglass class-token classifier
    token_head = [official[k] for k in official if k.endswith('_cls.weight')]
    assert len(head) == 2 * len(token_head) or not head
    assert all(
        any(v.shape == o.shape and torch.equal(v, o)
            for o in official.values()) for v in head.values())
    backbone = {
        k[len('backbone.'):]: v
        for k, v in converted.items() if k.startswith('backbone.')
    }
    assert len(backbone) + len(head) + 2 == len(converted)
    model = BACKBONES[name](arch=fixture['arch'], out_indices=(0, 1, 2, 3))
    model.load_state_dict(backbone)  # strict: every backbone tensor
    model.eval()
    with torch.no_grad():
        outs = model(fixture['input'])
    for i, (ours, recorded) in enumerate(zip(outs, fixture['eval_outputs'])):
        assert_matches(ours, recorded, f'{name} stage {i + 1}')
