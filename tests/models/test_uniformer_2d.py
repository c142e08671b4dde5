import math

import pytest
import torch
import torch.nn.functional as F
from conftest import randomize_
from torch.nn.modules.batchnorm import _BatchNorm

from uniformer_mm import UniFormer
from uniformer_mm.models import ARCH_ZOO_2D
from uniformer_mm.models.arch import preset_aliases
from uniformer_mm.models.blocks import AttentionBlock

CANONICAL_2D = list(preset_aliases(ARCH_ZOO_2D))


@pytest.mark.parametrize('arch', CANONICAL_2D)
def test_every_preset_forward_shapes(arch):
    model = UniFormer(arch).eval()
    dims = model.embed_dims
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 96))
    assert [tuple(o.shape) for o in outs
            ] == [(1, dims[i], 16 // 2**i, 24 // 2**i) for i in range(4)]


@pytest.mark.parametrize('attn_mode', ['global', 'window', 'hybrid'])
@pytest.mark.parametrize('size', [(150, 100), (224, 224), (97, 161)])
def test_attn_modes_and_odd_sizes(attn_mode, size):
    model = UniFormer('test', attn_mode=attn_mode, window_size=3).eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, *size))
    h, w = size[0] // 4, size[1] // 4
    expected = []
    for i in range(4):
        expected.append((2, model.embed_dims[i], h, w))
        h, w = h // 2, w // 2
    assert [tuple(o.shape) for o in outs] == expected
    assert all(torch.isfinite(o).all() for o in outs)


def test_hybrid_layout():
    model = UniFormer('small', attn_mode='hybrid', window_size=7)
    assert [b.window_size for b in model.blocks3] == [7, 7, 7, None] * 2
    assert all(b.window_size is None for b in model.blocks4)
    assert all(
        b.window_size == 7
        for b in UniFormer('small', attn_mode='window', window_size=7).blocks3)


@pytest.mark.parametrize('out_indices', [(3, ), (0, 2), (-1, ), 1])
def test_out_indices(out_indices):
    model = UniFormer('test', out_indices=out_indices).eval()
    wanted = sorted({
        i % 4
        for i in (out_indices if isinstance(out_indices, tuple) else (
            out_indices, ))
    })
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [model.embed_dims[i] for i in wanted]
    norms = {n for n, _ in model.named_children() if n.startswith('norm')}
    assert norms == {f'norm{i + 1}' for i in wanted}


def _official_block_forward(block, x):
    """The official SABlock / SABlock_Windows computation, written out with
    explicit loops over windows and an explicit softmax."""
    x = x + F.conv2d(
        x,
        block.pos_embed.weight,
        block.pos_embed.bias,
        padding=1,
        groups=x.shape[1])
    B, C, H, W = x.shape
    tokens = x.permute(0, 2, 3, 1)
    normed = F.layer_norm(tokens, (C, ), block.norm1.weight, block.norm1.bias,
                          1e-6)
    attn = block.attn
    heads, hd = attn.num_heads, C // attn.num_heads

    def attend(seq):  # (n, C) -> (n, C)
        qkv = F.linear(seq, attn.qkv.weight,
                       attn.qkv.bias).view(-1, 3, heads, hd)
        q, k, v = (qkv[:, i].transpose(0, 1) for i in range(3))
        weights = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd), dim=-1)
        out = (weights @ v).transpose(0, 1).reshape(-1, C)
        return F.linear(out, attn.proj.weight, attn.proj.bias)

    out = torch.zeros_like(normed)
    for b in range(B):
        if block.window_size is None:
            out[b] = attend(normed[b].reshape(-1, C)).view(H, W, C)
            continue
        ws = block.window_size
        Hp, Wp = math.ceil(H / ws) * ws, math.ceil(W / ws) * ws
        padded = normed.new_zeros(Hp, Wp, C)
        padded[:H, :W] = normed[b]
        result = torch.zeros_like(padded)
        for i in range(0, Hp, ws):
            for j in range(0, Wp, ws):
                window = padded[i:i + ws, j:j + ws].reshape(-1, C)
                result[i:i + ws, j:j + ws] = attend(window).view(ws, ws, C)
        out[b] = result[:H, :W]
    tokens = tokens + out
    hidden = F.layer_norm(tokens, (C, ), block.norm2.weight, block.norm2.bias,
                          1e-6)
    hidden = F.linear(
        F.gelu(F.linear(hidden, block.mlp.fc1.weight, block.mlp.fc1.bias)),
        block.mlp.fc2.weight, block.mlp.fc2.bias)
    return (tokens + hidden).permute(0, 3, 1, 2)


@pytest.mark.parametrize('window_size', [None, 4, 5])
@pytest.mark.parametrize('fused', [True, False])
def test_attention_block_matches_explicit_computation(window_size, fused):
    block = randomize_(
        AttentionBlock(
            32, 4, window_size=window_size, fast_paths=dict(fused_attn=fused)))
    x = torch.randn(2, 32, 9, 7)
    with torch.no_grad():
        expected = _official_block_forward(block, x)
        got = block(x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('attn_mode', ['global', 'hybrid'])
def test_sdpa_equals_eager(attn_mode):
    fused = randomize_(UniFormer('test', attn_mode=attn_mode,
                                 window_size=3)).eval()
    eager = UniFormer(
        'test',
        attn_mode=attn_mode,
        window_size=3,
        fast_paths=dict(fused_attn=False)).eval()
    eager.load_state_dict(fused.state_dict())
    x = torch.randn(2, 3, 80, 72)
    with torch.no_grad():
        for a, b in zip(fused(x), eager(x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_with_cp_same_output_and_gradients():
    plain = randomize_(UniFormer('test', attn_mode='hybrid', window_size=3))
    checkpointed = UniFormer(
        'test', attn_mode='hybrid', window_size=3, with_cp=[True, 0, 3, True])
    checkpointed.load_state_dict(plain.state_dict())
    assert checkpointed.cp_blocks == [1, 0, 3, 1]
    plain.eval(), checkpointed.eval()  # BN statistics must not move
    x = torch.randn(2, 3, 64, 64)
    outs = [sum(o.square().sum() for o in m(x)) for m in (plain, checkpointed)]
    torch.testing.assert_close(outs[0], outs[1])
    for out in outs:
        out.backward()
    for (name, p), q in zip(plain.named_parameters(),
                            checkpointed.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_with_cp_validation():
    assert UniFormer('test', with_cp=True).cp_blocks == [1, 1, 4, 1]
    with pytest.raises(ValueError, match='checkpoint_num'):
        UniFormer('test', with_cp=[1, 2])


def test_frozen_stages_and_norm_eval():
    model = UniFormer('test', frozen_stages=2, norm_eval=True)
    model.train()
    for name, param in model.named_parameters():
        frozen = name.startswith(('patch_embed1', 'blocks1', 'norm1',
                                  'patch_embed2', 'blocks2', 'norm2'))
        assert param.requires_grad is not frozen, name
    assert not model.blocks1.training and not model.patch_embed2.training
    assert model.blocks3.training
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))
    # BN statistics of frozen / norm_eval stages do not move in training.
    before = model.blocks1[0].norm1.running_mean.clone()
    model(torch.randn(2, 3, 64, 64))
    torch.testing.assert_close(model.blocks1[0].norm1.running_mean, before)


def test_train_mode_updates_bn_without_norm_eval():
    model = UniFormer('test').train()
    before = model.blocks2[0].norm1.running_mean.clone()
    model(torch.randn(2, 3, 64, 64))
    assert not torch.equal(model.blocks2[0].norm1.running_mean, before)


def test_drop_path_is_linear():
    model = UniFormer('test', drop_path_rate=0.7)
    rates = [
        getattr(b.drop_path, 'drop_prob', 0.) for i in range(1, 5)
        for b in getattr(model, f'blocks{i}')
    ]
    assert rates == pytest.approx(torch.linspace(0, 0.7, 7).tolist())


def test_default_init():
    model = UniFormer('test')
    model.init_weights()
    assert torch.equal(model.norm1.weight, torch.ones(16))
    assert torch.equal(model.blocks3[0].attn.qkv.bias, torch.zeros(192))
    # trunc_normal_(std=.02) of 12288 values: their std within 10% of 0.02
    assert abs(model.blocks3[0].attn.qkv.weight.std() - 0.02) < 0.002


@pytest.mark.parametrize('x, error, fragment', [
    (torch.randn(1, 4, 64, 64), ValueError, 'in_channels=3'),
    (torch.randn(3, 64, 64), ValueError, '4D tensor'),
    (torch.randn(1, 3, 8, 64, 64), ValueError, '4D tensor'),
    (torch.randn(1, 3, 31, 64), ValueError, 'too small'),
    ([1, 2], TypeError, 'expects a tensor'),
])
def test_bad_input(x, error, fragment):
    with pytest.raises(error, match=fragment):
        UniFormer('test')(x)


def test_conv_stem_has_no_minimum_stride_size():
    model = UniFormer(dict(ARCH_ZOO_2D['test'], conv_stem=True)).eval()
    outs = model(torch.randn(1, 3, 17, 20))
    assert outs[-1].shape[-2:] == (1, 1)  # 17 -> 9 -> 5 -> 3 -> 2 -> 1


def test_nan_input_in_debug_mode():
    x = torch.randn(1, 3, 64, 64)
    x[0, 0, 3, 3] = float('nan')
    with pytest.raises(ValueError, match='NaN or inf'):
        UniFormer('test', debug=True)(x)
    with torch.autograd.detect_anomaly():
        with pytest.raises(ValueError, match='NaN or inf'):
            UniFormer('test')(x)
    UniFormer('test')(x)  # not checked outside debug mode


@pytest.mark.parametrize('kwargs, fragment', [
    (dict(attn_mode='local'), "attn_mode must be one of"),
    (dict(window_size=0), 'window_size must be an int >= 1'),
    (dict(arch='tiny'), 'Valid presets'),
    (dict(out_indices=(4, )), 'out_indices'),
    (dict(frozen_stages=5), 'frozen_stages'),
    (dict(in_channels=0), 'in_channels'),
])
def test_bad_arguments(kwargs, fragment):
    kwargs.setdefault('arch', 'test')
    with pytest.raises(ValueError, match=fragment):
        UniFormer(**kwargs)
