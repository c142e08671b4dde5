"""The fast paths of the blocks compute what the official code computes.

``fused_attn`` (SDPA; windows gathered from the qkv projection of the map),
``channels_last`` (token views instead of copies) and ``recompute_gelu``
(GELU recomputed in backward) are each checked against the reference build
with all three off -- the official computation -- for outputs and for every
parameter's gradient, and for the memory autograd keeps.
"""
import itertools

import pytest
import torch
from conftest import randomize_

from uniformer_mm import UniFormer, UniFormer3D
from uniformer_mm.models.blocks import AttentionBlock, Mlp

TINY = dict(depths=[1, 1, 4, 1], embed_dims=[32, 64, 128, 256], head_dim=32)
REFERENCE = dict(fused_attn=False, channels_last=False, recompute_gelu=False)
FLAGS = ('fused_attn', 'channels_last', 'recompute_gelu')


def _step(model, x):
    """Outputs and parameter gradients of one training step."""
    model.zero_grad(set_to_none=True)
    outs = model(x)
    outs = outs if isinstance(outs, tuple) else (outs, )
    sum((o * torch.linspace(-1, 1, o.shape[1]).view(1, -1, *[1] *
                                                     (o.dim() - 2))).square()
        .mean() for o in outs).backward()
    return outs, {n: p.grad for n, p in model.named_parameters()}


def _assert_same_step(model, reference, x):
    outs, grads = _step(model, x)
    ref_outs, ref_grads = _step(reference, x)
    for out, ref in zip(outs, ref_outs):
        assert out.shape == ref.shape
        torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    scale = max(g.abs().max() for g in ref_grads.values())
    for name, ref in ref_grads.items():
        torch.testing.assert_close(
            grads[name], ref, rtol=1e-3, atol=1e-5 * scale, msg=name)


@pytest.mark.parametrize(
    'flags', [f for f in itertools.product([True, False], repeat=3)
              if any(f)],
    ids=lambda f: '-'.join(n for n, on in zip(FLAGS, f) if on))
@pytest.mark.parametrize('attn_mode', ['hybrid', 'window'])
def test_2d_builds_match_reference(flags, attn_mode):
    torch.manual_seed(0)
    # 150x100: stage 3 is 10x7, padded to 10x10 by windows of 5
    kw = dict(arch=TINY, attn_mode=attn_mode, window_size=5)
    reference = randomize_(UniFormer(**kw, **REFERENCE)).train()
    model = UniFormer(**kw, **dict(zip(FLAGS, flags))).train()
    model.load_state_dict(reference.state_dict())
    _assert_same_step(model, reference, torch.randn(2, 3, 150, 100))


def test_3d_build_matches_reference():
    torch.manual_seed(0)
    arch = dict(TINY, depths=[1, 1, 2, 1])
    reference = randomize_(UniFormer3D(arch, **REFERENCE)).train()
    model = UniFormer3D(arch).train()
    model.load_state_dict(reference.state_dict())
    # the final BatchNorm3d in eval mode: in train mode it would normalise
    # 16 values per channel here, leaving the last stage's gradients as
    # rounding noise
    reference.norm.eval()
    model.norm.eval()
    _assert_same_step(model, reference, torch.randn(1, 3, 8, 64, 64))


def test_fused_windows_equal_partitioned_windows():
    """The copy-free window path against the official partition/reverse,
    with padding on both sides."""
    torch.manual_seed(0)
    official = randomize_(
        AttentionBlock(64, 2, window_size=4, fused_attn=False)).eval()
    fused = AttentionBlock(64, 2, window_size=4, fused_attn=True).eval()
    fused.load_state_dict(official.state_dict())
    x = torch.randn(2, 64, 9, 6)
    torch.testing.assert_close(fused(x), official(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('channels_last', [True, False])
def test_blocks_keep_the_input_layout(channels_last):
    block = AttentionBlock(32, 1, window_size=4).eval()
    x = torch.randn(1, 32, 8, 8)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = block(x)
    assert y.is_contiguous(memory_format=torch.channels_last) == (
        channels_last)
    assert y.is_contiguous() == (not channels_last)


def _saved_bytes(model, x) -> int:
    """Bytes of the distinct activations autograd keeps for backward (the
    parameters, which it keeps too, aside)."""
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen = {}

    def pack(t):
        ptr = t.untyped_storage().data_ptr()
        if ptr not in params:
            seen[ptr] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        outs = model(x)
    del outs
    return sum(seen.values())


def test_recompute_gelu_keeps_less_for_backward():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 128, 128)
    lean = UniFormer(TINY).train()
    full = UniFormer(TINY, recompute_gelu=False).train()
    saved_lean, saved_full = _saved_bytes(lean, x), _saved_bytes(full, x)
    # each block keeps ~15-18 activations of its width, 4 of them being the
    # GELU output; MLP ratio 4 -> about a quarter less
    assert saved_lean < 0.8 * saved_full, (saved_lean, saved_full)


def test_recompute_gelu_steps_aside_for_dropout_and_no_grad():
    mlp = Mlp(8, 32, drop_rate=0.5).train()
    x = torch.randn(4, 8, requires_grad=True)
    torch.manual_seed(0)
    y = mlp(x)
    assert y.grad_fn.name() != '_GeluLinearBackward'
    mlp.drop.p = 0.
    assert mlp(x).grad_fn.name() == '_GeluLinearBackward'
    with torch.no_grad():
        assert mlp(x).grad_fn is None


def test_bf16_autocast_is_finite_and_close():
    torch.manual_seed(0)
    model = randomize_(UniFormer(TINY, attn_mode='hybrid',
                                 window_size=5)).eval()
    x = torch.randn(1, 3, 160, 96)
    with torch.no_grad():
        ref = model(x)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            outs = model(x)
    for out, r in zip(outs, ref):
        assert torch.isfinite(out).all()
        # bf16 keeps 8 bits of mantissa: ~0.4% per op
        assert ((out.float() - r).norm() / r.norm()) < 0.05


@pytest.mark.slow
def test_torch_compile_matches_eager_mode():
    torch.manual_seed(0)
    model = randomize_(UniFormer(TINY, attn_mode='hybrid',
                                 window_size=5)).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        ref = model(x)
        outs = torch.compile(model)(x)
    for out, r in zip(outs, ref):
        torch.testing.assert_close(out, r, rtol=1e-4, atol=1e-4)
