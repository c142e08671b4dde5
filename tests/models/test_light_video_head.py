"""The hourglass video models' two classifiers (issue 18, item 2).

Official ``slowfast/models/uniformer_light.py`` + ``tools/train_net_cls.py``:
``head`` on the mean of the final patch-token map, ``head_cls`` on the
stage-4 class token after ``norm_cls`` (``nn.LayerNorm``, eps 1e-5); the
training loss is ``0.5 * CE(head) + 0.5 * CE(head_cls)``; in eval mode the
model returns ``head`` alone, which ``tools/test_net.py`` ensembles. Every
expected value here is computed from those definitions with plain torch
ops, not through the head.
"""
import pytest
import torch
import torch.nn.functional as F
from conftest import CONFIGS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from uniformer_mm.checkpoints import official_state_dict_shapes
from uniformer_mm.checkpoints.video import convert_slowfast_to_recognizer

CONFIG = (
    CONFIGS / 'video/light/uniformer-xxs-res128_imagenet1k-pre_'
    '8xb32-u4-110e_kinetics400-rgb.py')
CLASSES = 400
EPS = 0.1  # label smoothing of the configs


def _build():
    init_default_scope('mmaction')
    from mmaction.registry import MODELS
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.backbone.pop('init_cfg')
    cfg.model.backbone.drop_path_rate = 0.  # deterministic train forward
    return MODELS.build(cfg.model)


@pytest.fixture(scope='module')
def recognizer():
    torch.manual_seed(0)
    model = _build()
    model.init_weights()
    return model


@pytest.fixture(scope='module')
def clip():
    torch.manual_seed(1)
    return torch.randn(2, 3, 4, 64, 64)  # a stand-in clip per sample


def _samples(labels):
    from mmaction.structures import ActionDataSample
    return [ActionDataSample().set_gt_label(torch.tensor(y)) for y in labels]


def _official_logits(model, x, state):
    """The official forward, from official-layout tensors ``state``."""
    feat, token = model.backbone(x)
    patch = F.linear(
        feat.flatten(2).mean(-1), state['head.weight'], state['head.bias'])
    token = F.layer_norm(token, token.shape[-1:], state['norm_cls.weight'],
                         state['norm_cls.bias'], 1e-5)
    return patch, F.linear(token, state['head_cls.weight'],
                           state['head_cls.bias'])


def _ours_as_official(head):
    return {
        'head.weight': head.fc_cls.weight,
        'head.bias': head.fc_cls.bias,
        'head_cls.weight': head.fc_cls_token.weight,
        'head_cls.bias': head.fc_cls_token.bias,
        'norm_cls.weight': head.norm_cls.weight,
        'norm_cls.bias': head.norm_cls.bias,
    }


def _smoothed_ce(logits, labels):
    target = F.one_hot(torch.tensor(labels), CLASSES).float()
    target = (1 - EPS) * target + EPS / CLASSES
    return -(target * F.log_softmax(logits, dim=1)).sum(1).mean()


def test_both_heads_logits(recognizer, clip):
    recognizer.eval()
    with torch.no_grad():
        feats = recognizer.backbone(clip)
        patch = recognizer.cls_head(feats)
        token = recognizer.cls_head.forward_cls_token(feats)
        want_patch, want_token = _official_logits(
            recognizer, clip, _ours_as_official(recognizer.cls_head))
    assert patch.shape == token.shape == (2, CLASSES)
    torch.testing.assert_close(patch, want_patch)
    torch.testing.assert_close(token, want_token)
    assert not torch.allclose(patch, token)  # two different classifiers


def test_loss_is_half_each_head(recognizer, clip):
    labels = [3, 250]
    recognizer.train()
    losses = recognizer(clip[:, None], _samples(labels), mode='loss')
    with torch.no_grad():
        patch, token = _official_logits(recognizer, clip,
                                        _ours_as_official(recognizer.cls_head))
    want_patch, want_token = _smoothed_ce(patch,
                                          labels), _smoothed_ce(token, labels)
    torch.testing.assert_close(losses['ce_patch_head'], want_patch)
    torch.testing.assert_close(losses['ce_token_head'], want_token)
    torch.testing.assert_close(losses['loss_cls'].detach(),
                               0.5 * want_patch + 0.5 * want_token)
    # the terms are logged, not summed into the loss a second time
    assert [k for k in losses if 'loss' in k] == ['loss_cls']


def test_prediction_uses_the_patch_head(recognizer, clip):
    """As the official test: head(patch tokens) only."""
    recognizer.eval()
    with torch.no_grad():
        out = recognizer(clip[:, None], _samples([0, 0]), mode='predict')
        patch, _ = _official_logits(recognizer, clip,
                                    _ours_as_official(recognizer.cls_head))
    scores = torch.stack([o.pred_score for o in out])
    # one view; the configs average raw scores (the official sum of logits)
    torch.testing.assert_close(scores, patch)


def test_official_layout_checkpoint_loads_both_heads(recognizer, clip):
    """An official ``model_state`` (the recorded key set of the official
    light model, 400 classes) converts and loads strictly, both heads in the
    remapped class order."""
    keys = official_state_dict_shapes('cls_light_xxs')
    ours = recognizer.backbone.state_dict()
    # the layer-scale run (XXS-LS) adds gamma_1/gamma_2 to every block
    keys.update((k, list(v.shape)) for k, v in ours.items() if '.gamma_' in k)
    torch.manual_seed(2)
    state = {}
    for key, shape in keys.items():
        if key.startswith(('head.', 'head_cls.')):
            shape = [CLASSES] + shape[1:]
        elif key in ours and ours[key].dim() == 5:  # inflated kernels
            shape = list(ours[key].shape)
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(7)
        elif key.endswith('running_var'):
            state[key] = torch.rand(shape) + 0.5
        else:
            state[key] = torch.randn(shape) * 0.05
    remap = torch.randperm(CLASSES)
    converted = convert_slowfast_to_recognizer({'model_state': state},
                                               label_remap=remap,
                                               num_classes=CLASSES)
    model = _build()
    model.load_state_dict(converted, strict=True)
    head = model.cls_head
    assert torch.equal(head.fc_cls.weight, state['head.weight'][remap])
    assert torch.equal(head.fc_cls_token.weight,
                       state['head_cls.weight'][remap])
    assert torch.equal(head.fc_cls_token.bias, state['head_cls.bias'][remap])
    assert torch.equal(head.norm_cls.weight, state['norm_cls.weight'])
    model.eval()
    with torch.no_grad():
        feats = model.backbone(clip)
        want_patch, want_token = _official_logits(model, clip, state)
        torch.testing.assert_close(head(feats), want_patch[:, remap])
        torch.testing.assert_close(
            head.forward_cls_token(feats), want_token[:, remap])


def test_incomplete_class_token_head_is_refused(recognizer):
    state = dict(recognizer.backbone.state_dict())
    state['head.weight'] = torch.zeros(CLASSES, 448)
    state['head.bias'] = torch.zeros(CLASSES)
    state['head_cls.weight'] = torch.zeros(CLASSES, 448)  # no bias, norm
    with pytest.raises(ValueError, match='class-token classifier'):
        convert_slowfast_to_recognizer({'model_state': state})


def test_head_without_class_token_names_the_fix(recognizer):
    with pytest.raises(TypeError, match='out_cls_token=True'):
        recognizer.cls_head(torch.zeros(1, 448, 1, 2, 2))
