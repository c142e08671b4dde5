"""Backbone options, each alone, against an expectation written out here.

(``norm_eval``, ``with_cp``, ``out_indices`` and each fast path are checked
against the official recordings in ``test_official_outputs.py``.)
"""
import re

import pytest
import torch
import torch.nn.functional as F
from official_fixtures import build_from_fixture
from official_fixtures import load_fixture as fixture

from uniformer_mm.models.blocks import ConvBlock

STAGE_MODULE = re.compile(r'^(patch_embed|blocks|norm)[1-4]$|^cls_upsample$')
# one fixture per backbone class
MODELS = ('uniformer_global', 'uniformer_video', 'uniformer_light',
          'uniformer_light_video')


def stage_of(name, video):
    """The stage (1-4) a parameter or buffer belongs to, by its name: the
    official modules of stage i are patch_embed{i}, blocks{i}, norm{i};
    the hourglass class token enters in stage 3 and its projection to stage
    4 belongs to stage 4; the video models' final norm follows stage 4."""
    root = name.split('.')[0]
    if root == 'cls_token':
        return 3
    if root == 'cls_upsample' or (video and root == 'norm'):
        return 4
    return int(root[-1])


@pytest.mark.parametrize('frozen_stages', [-1, 0, 1, 2, 3, 4])
@pytest.mark.parametrize('name', MODELS)
def test_frozen_stages_freeze_exactly_those_stages(name, frozen_stages,
                                                   tmp_path):
    model = build_from_fixture(name, tmp_path, frozen_stages=frozen_stages)
    video = 'video' in name
    model.train()
    frozen = {
        n
        for n, _ in model.named_parameters()
        if stage_of(n, video) <= frozen_stages
    }
    assert {n
            for n, p in model.named_parameters()
            if not p.requires_grad} == frozen
    for module_name, module in model.named_children():
        if STAGE_MODULE.match(module_name) or module_name == 'norm':
            assert module.training is (stage_of(module_name, video)
                                       > frozen_stages), module_name
            assert all(m.training is module.training
                       for m in module.modules()), module_name
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(
        trainable or [torch.zeros(1, requires_grad=True)],
        lr=0.1,
        weight_decay=0.1)
    outs = model(fixture(name)['input'])
    if trainable:
        sum(o.square().mean() for o in outs).backward()
        optimizer.step()
    for n, p in model.named_parameters():
        assert torch.equal(p, params[n]) is (n in frozen), n
    # BatchNorm statistics move only in the stages that train
    for n, b in model.named_buffers():
        if n.endswith(('running_mean', 'running_var')):
            assert torch.equal(b, buffers[n]) is (stage_of(n, video)
                                                  <= frozen_stages), n


def _bn(x, norm, training):
    return F.batch_norm(x, norm.running_mean.clone(), norm.running_var.clone(),
                        norm.weight, norm.bias, training, 0., norm.eps)


def conv_block_by_hand(block, x, training, ndim):
    """The official CBlock, written out with functional ops:
    x + dpe(x); x + conv2(attn(conv1(norm1(x)))); x + mlp(norm2(x)),
    each residual branch times gamma_i with layer scale."""
    conv = F.conv2d if ndim == 2 else F.conv3d
    c = x.shape[1]

    def apply(layer, y, padding=0, groups=1):
        return conv(
            y, layer.weight, layer.bias, padding=padding, groups=groups)

    def scaled(gamma, y):
        return y if gamma is None else gamma * y

    x = x + apply(block.pos_embed, x, 1, c)
    y = apply(block.conv1, _bn(x, block.norm1, training))
    y = apply(block.conv2, apply(block.attn, y, 2, c))
    x = x + scaled(block.gamma_1, y)
    y = F.gelu(apply(block.mlp.fc1, _bn(x, block.norm2, training)))
    return x + scaled(block.gamma_2, apply(block.mlp.fc2, y))


@pytest.mark.parametrize('fast_paths', ['fast', 'reference'])
@pytest.mark.parametrize('layer_scale', [None, 0.5])
@pytest.mark.parametrize('ndim', [2, 3])
def test_conv_block_is_the_official_formula(ndim, layer_scale, fast_paths):
    torch.manual_seed(0)
    block = ConvBlock(
        8,
        mlp_ratio=3,
        layer_scale_init_value=layer_scale,
        ndim=ndim,
        fast_paths=fast_paths)
    with torch.no_grad():
        for name, tensor in block.state_dict().items():
            if name.endswith('running_var'):
                tensor.uniform_(0.5, 1.5)
            elif not name.endswith('num_batches_tracked'):
                tensor.normal_(0, 0.3)
        if layer_scale:
            block.gamma_1.mul_(3)  # the two scales differ
    x = torch.randn((2, 8) + (6, ) * ndim)
    for training in (False, True):
        block.train(training)
        with torch.no_grad():
            expected = conv_block_by_hand(block, x, training, ndim)
            ours = block(x.clone())
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('mode', ['average', 'center'])
def test_inflate_mode_loads_the_kernels_of_the_formula(mode, tmp_path):
    """A 2D file into a video backbone: every 2D kernel (O, I, h, w) of the
    file becomes, for T time steps, k / T at every step ('average') or k at
    step T // 2 and zeros elsewhere ('center')."""
    image_model = fixture('uniformer_video_inflated')['checkpoint']['model']
    model = build_from_fixture(
        'uniformer_video_inflated', tmp_path, inflate_mode=mode)
    weights = model.state_dict()
    kernels = [k for k, v in image_model.items() if v.dim() == 4]
    # 4 patch embeddings, 6 convolutions in each of the 2 ConvBlocks, the
    # position embeddings of the 2 attention blocks
    assert len(kernels) == 18
    for key in kernels:
        kernel, loaded = image_model[key], weights[key]
        T = loaded.shape[2]
        for t in range(T):
            if mode == 'average':
                want = kernel / T
            else:
                want = kernel if t == T // 2 else torch.zeros_like(kernel)
            torch.testing.assert_close(
                loaded[:, :, t], want, rtol=1e-6, atol=0, msg=key)
