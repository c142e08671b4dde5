"""The fast paths of the blocks compute what the official code computes.

``fused_attn`` (SDPA; windows gathered from the qkv projection of the map),
``channels_last`` (token views instead of copies), ``recompute_gelu``
(GELU recomputed in backward), ``depthwise_backward`` (the depth-wise
convolutions' backward as forward convolutions) and ``recompute_norm``
(BatchNorm outputs recomputed in backward) are each checked against the
reference build (``fast_paths='reference'``: the official computation),
alone and in every combination, for outputs and for
every parameter's gradient, and for the memory autograd keeps; and the one
switch that chooses them reaches every block.
"""
import itertools

import pytest
import torch
from conftest import randomize_

from uniformer_mm import UniFormer, UniFormer3D
from uniformer_mm.models import UniFormerLight, UniFormerLight3D, ops
from uniformer_mm.models.arch import ARCH_ZOO_2D
from uniformer_mm.models.blocks import AttentionBlock, Mlp
from uniformer_mm.models.ops import FastPaths

REFERENCE = dict(fast_paths='reference')
FLAGS = ('fused_attn', 'channels_last', 'recompute_gelu', 'depthwise_backward',
         'recompute_norm')


def _step(model, x):
    """Outputs and parameter gradients of one training step."""
    model.zero_grad(set_to_none=True)
    outs = model(x)
    outs = outs if isinstance(outs, tuple) else (outs, )
    sum((
        o *
        torch.linspace(-1, 1, o.shape[1]).view(1, -1, *[1] *
                                               (o.dim() - 2))).square().mean()
        for o in outs).backward()
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
    'flags', [f for f in itertools.product([True, False], repeat=5) if any(f)],
    ids=lambda f: '-'.join(n for n, on in zip(FLAGS, f) if on))
@pytest.mark.parametrize('attn_mode', ['hybrid', 'window'])
def test_2d_builds_match_reference(flags, attn_mode):
    torch.manual_seed(0)
    # 150x100: stage 3 is 10x7, padded to 10x10 by windows of 5
    kw = dict(arch='test', attn_mode=attn_mode, window_size=5)
    reference = randomize_(UniFormer(**kw, **REFERENCE)).train()
    model = UniFormer(**kw, fast_paths=dict(zip(FLAGS, flags))).train()
    model.load_state_dict(reference.state_dict())
    _assert_same_step(model, reference, torch.randn(2, 3, 150, 100))


def test_3d_build_matches_reference():
    torch.manual_seed(0)
    arch = dict(ARCH_ZOO_2D['test'], depths=[1, 1, 2, 1])
    reference = randomize_(UniFormer3D(arch, **REFERENCE)).train()
    model = UniFormer3D(arch).train()
    model.load_state_dict(reference.state_dict())
    # the final BatchNorm3d in eval mode: in train mode it would normalise
    # 16 values per channel here, leaving the last stage's gradients as
    # rounding noise
    reference.norm.eval()
    model.norm.eval()
    _assert_same_step(model, reference, torch.randn(1, 3, 8, 64, 64))


@pytest.mark.parametrize(
    'shape, kernel',
    [
        ((2, 6, 9, 11), 3),  # 2D 3x3: PyTorch's own weight gradient
        ((2, 6, 9, 11), 5),  # 2D 5x5: overlapping 3x3 blocks of offsets
        ((1, 6, 4, 9, 11), 7),  # 3D 7x7x7, one sample
        ((2, 6, 4, 9, 11), 3),  # 3D 3x3x3: per temporal offset
        ((2, 6, 4, 9, 11), 5),  # 3D 5x5x5: grouped conv per sample
        ((2, 6, 9, 13), 7),  # 2D 7x7: offsets in blocks 0, 2, 4
    ])
@pytest.mark.parametrize('channels_last', [True, False])
def test_depthwise_conv_gradients_equal_autograd(shape, kernel, channels_last):
    """DepthwiseConv against PyTorch's own convolution and its autograd:
    output, input, weight and bias gradients, in float64 (so any wrong
    offset, flip or layout shows as an O(1) error, not rounding)."""
    torch.manual_seed(0)
    conv_cls = torch.nn.Conv3d if len(shape) == 5 else torch.nn.Conv2d
    conv = conv_cls(
        shape[1], shape[1], kernel, padding=kernel // 2,
        groups=shape[1]).double()
    x = torch.randn(shape, dtype=torch.float64)
    if channels_last:
        x = ops.to_channels_last(x)
    x.requires_grad_()
    grad_out = torch.randn(shape, dtype=torch.float64)
    params = (x, conv.weight, conv.bias)
    ref_out = conv(x)
    ref = torch.autograd.grad(ref_out, params, grad_out)
    out = ops.DepthwiseConv.apply(*params)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    for got, want in zip(torch.autograd.grad(out, params, grad_out), ref):
        assert got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize('kwargs', [
    dict(stride=2, padding=1),
    dict(padding=0),
    dict(dilation=2, padding=2),
    dict(padding=1, padding_mode='reflect'),
    dict(padding=1, groups=3),
])
def test_depthwise_fast_path_leaves_other_convolutions_alone(kwargs):
    """Only stride-1, zero 'same'-padded, one-filter-per-channel
    convolutions take DepthwiseConv; the rest run as built."""
    groups = kwargs.pop('groups', 6)
    conv = torch.nn.Conv2d(6, 6, 3, groups=groups, **kwargs)
    x = torch.randn(1, 6, 8, 8, requires_grad=True)
    out = FastPaths().depthwise(conv, x)
    assert type(out.grad_fn).__name__ != 'DepthwiseConvBackward'
    torch.testing.assert_close(out, conv(x), rtol=0, atol=0)


def test_depthwise_fast_path_only_under_cpu_autograd():
    conv = torch.nn.Conv3d(4, 4, 3, padding=1, groups=4)
    x = torch.randn(1, 4, 2, 5, 5)
    assert 'DepthwiseConv' in type(FastPaths().depthwise(
        conv, x).grad_fn).__name__  # the weight needs a gradient
    with torch.no_grad():
        assert FastPaths().depthwise(conv, x).grad_fn is None
    off = FastPaths(depthwise_backward=False).depthwise(conv, x)
    assert 'DepthwiseConv' not in type(off.grad_fn).__name__


def test_fused_windows_equal_partitioned_windows():
    """The copy-free window path against the official partition/reverse,
    with padding on both sides."""
    torch.manual_seed(0)
    official = randomize_(
        AttentionBlock(64, 2, window_size=4, fast_paths='reference')).eval()
    fused = AttentionBlock(64, 2, window_size=4, fast_paths='fast').eval()
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
    lean = UniFormer('test').train()
    full = UniFormer('test', fast_paths=dict(recompute_gelu=False)).train()
    saved_lean, saved_full = _saved_bytes(lean, x), _saved_bytes(full, x)
    # each block keeps ~15-18 activations of its width, 4 of them being the
    # GELU output; MLP ratio 4 -> about a quarter less
    assert saved_lean < 0.8 * saved_full, (saved_lean, saved_full)


def test_recompute_norm_keeps_less_for_backward():
    """A convolution stage keeps two BatchNorm outputs fewer per block."""
    torch.manual_seed(0)
    arch = dict(ARCH_ZOO_2D['test'], depths=[2, 1, 1, 1])
    x = torch.randn(1, 3, 128, 128)
    lean = UniFormer(arch).train()
    full = UniFormer(arch, fast_paths=dict(recompute_norm=False)).train()
    saved_lean, saved_full = _saved_bytes(lean, x), _saved_bytes(full, x)
    # two maps per convolution block: 2 stage-1 blocks of 16 channels at
    # 32 x 32, 1 stage-2 block of 32 channels at 16 x 16 (float32)
    two_maps = 2 * 4 * (2 * 16 * 32 * 32 + 32 * 16 * 16)
    assert 0.98 * two_maps <= saved_full - saved_lean <= 1.02 * two_maps


@pytest.mark.parametrize('ndim', [2, 3])
@pytest.mark.parametrize('momentum', [0.1, None])
def test_norm_pointwise_equals_the_modules(ndim, momentum):
    """NormPointwise against BatchNorm then 1x1 conv run by autograd, in
    float64: output, every gradient, running statistics and the batch
    counter after two steps (momentum None: cumulative average)."""
    torch.manual_seed(0)
    bn_cls = torch.nn.BatchNorm3d if ndim == 3 else torch.nn.BatchNorm2d
    conv_cls = torch.nn.Conv3d if ndim == 3 else torch.nn.Conv2d
    shape = (2, 6) + (5, 7, 4)[3 - ndim:]

    def build():
        torch.manual_seed(1)
        norm = bn_cls(6, momentum=momentum).double().train()
        conv = conv_cls(6, 9, 1).double()
        with torch.no_grad():
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-1, 1)
        return norm, conv

    ref_norm, ref_conv = build()
    norm, conv = build()
    for step in range(2):
        x = ops.to_channels_last(
            torch.randn(shape, dtype=torch.float64) * 3 +
            step).requires_grad_()
        grad_out = torch.randn((2, 9) + shape[2:], dtype=torch.float64)
        ref_out = ref_conv(ref_norm(x))
        out = FastPaths().norm_pointwise(norm, conv, x)
        assert 'NormPointwise' in type(out.grad_fn).__name__
        torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
        inputs = [x, norm.weight, norm.bias, conv.weight, conv.bias]
        ref_inputs = [
            x, ref_norm.weight, ref_norm.bias, ref_conv.weight, ref_conv.bias
        ]
        got = torch.autograd.grad(out, inputs, grad_out)
        want = torch.autograd.grad(ref_out, ref_inputs, grad_out)
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-10)
    for name in ('running_mean', 'running_var', 'num_batches_tracked'):
        torch.testing.assert_close(
            getattr(norm, name), getattr(ref_norm, name), rtol=1e-12, atol=0)


def test_norm_pointwise_steps_aside():
    """Eval-mode norms, SyncBatchNorm, no autograd and other convolutions
    run as the modules do (and update nothing twice)."""
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    cases = [
        (torch.nn.BatchNorm2d(4).eval(), torch.nn.Conv2d(4, 4, 1)),
        (torch.nn.SyncBatchNorm(4).train(), torch.nn.Conv2d(4, 4, 1)),
        (torch.nn.BatchNorm2d(4, affine=False), torch.nn.Conv2d(4, 4, 1)),
        (torch.nn.BatchNorm2d(4, track_running_stats=False),
         torch.nn.Conv2d(4, 4, 1)),
        (torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 4, 3, padding=1)),
        (torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 4, 1, groups=2)),
    ]
    for norm, conv in cases:
        out = FastPaths().norm_pointwise(norm, conv, x)
        assert 'NormPointwise' not in type(out.grad_fn).__name__, norm
    norm, conv = torch.nn.BatchNorm2d(4), torch.nn.Conv2d(4, 4, 1)
    with torch.no_grad():
        FastPaths().norm_pointwise(norm, conv, x)
    assert norm.num_batches_tracked.item() == 1


def test_recompute_gelu_steps_aside_for_dropout_and_no_grad():
    mlp = Mlp(8, 32, drop_rate=0.5).train()
    x = torch.randn(4, 8, requires_grad=True)
    torch.manual_seed(0)
    y = mlp(x)
    assert y.grad_fn.name() != 'GeluLinearBackward'
    mlp.drop.p = 0.
    assert mlp(x).grad_fn.name() == 'GeluLinearBackward'
    with torch.no_grad():
        assert mlp(x).grad_fn is None


@pytest.mark.parametrize('cast', ['autocast', 'weights'])
def test_bf16_is_finite_and_close(cast):
    """bf16 by autocast, or with weights and input cast (the blocked bf16
    attention on a CPU with native bf16, SDPA elsewhere). A small input:
    without native bf16 every product is emulated, ~10x slower."""
    torch.manual_seed(0)
    model = randomize_(UniFormer('test', attn_mode='hybrid',
                                 window_size=5)).eval()
    x = torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        ref = model(x)
        if cast == 'autocast':
            with torch.autocast('cpu', dtype=torch.bfloat16):
                outs = model(x)
        else:
            outs = model.bfloat16()(x.bfloat16())
            assert all(o.dtype == torch.bfloat16 for o in outs)
    for out, r in zip(outs, ref):
        assert torch.isfinite(out).all()
        # bf16 keeps 8 bits of mantissa: ~0.4% per op
        assert ((out.float() - r).norm() / r.norm()) < 0.05


@pytest.mark.parametrize(
    'batch,tokens,score_block',
    [
        (6, 49, 49 * 49 * 4),  # windows: 4 (batch * head) slices per block
        (2, 300, 300 * 64),  # global: one slice, 64 query rows per block
        (3, 50, 7),  # under one row of scores: one query row per block
    ])
def test_blocked_bf16_attention_matches_float32(batch, tokens, score_block):
    g = torch.Generator().manual_seed(0)
    q, k, v = (2 * torch.randn(batch, 2, tokens, 16, generator=g)
               for _ in range(3))
    ref = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    q16, k16, v16 = (t.bfloat16() for t in (q, k, v))
    out = ops.blocked_attention(q16, k16, v16, 16**-0.5, score_block)
    whole = ops.blocked_attention(q16, k16, v16, 16**-0.5, 2**30)
    sdpa = torch.nn.functional.scaled_dot_product_attention(q16, k16, v16)
    assert out.dtype == torch.bfloat16 and out.shape == ref.shape

    def err(x):
        return ((x.float() - ref).norm() / ref.norm()).item()

    # rounding the scores to bf16 costs ~2x SDPA's bf16 error, no more
    assert err(out) < max(2.5 * err(sdpa), 1e-3) < 2e-2
    torch.testing.assert_close(out, whole, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize('native', [True, False])
def test_blocked_attention_runs_only_for_native_cpu_bf16_inference(
        monkeypatch, native):
    """The blocked path takes bf16 inference on a CPU that computes bf16
    natively; on one that emulates bf16 (AVX2) SDPA keeps it."""
    monkeypatch.setattr(ops, 'cpu_bf16_native', lambda: native)
    calls = []
    blocked = ops.blocked_attention
    monkeypatch.setattr(ops, 'blocked_attention',
                        lambda *a, **kw: calls.append(1) or blocked(*a, **kw))
    torch.manual_seed(0)
    model = UniFormer('test', attn_mode='hybrid', window_size=5)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        model.eval()(x)  # float32: SDPA
        assert not calls
        with torch.autocast('cpu', dtype=torch.bfloat16):
            model(x)
        # 4 windowed + 1 global attention blocks
        assert len(calls) == (5 if native else 0)
    if not native:
        return
    calls.clear()
    model.train().bfloat16()
    sum(o.float().sum() for o in model(x.bfloat16())).backward()  # SDPA
    assert not calls
    assert all(p.grad is not None for p in model.parameters()
               if p.requires_grad)


def test_cpu_capability_names_bf16_support(monkeypatch):
    base = torch.backends.cpu.get_cpu_capability()
    assert ops.cpu_capability().startswith(base)
    assert ('no native bf16' in ops.cpu_capability()) != ops.cpu_bf16_native()
    monkeypatch.setattr(ops, 'cpu_bf16_native', lambda: False)
    assert ops.cpu_capability() == (
        f'{base}, no native bf16 (needs AVX512-BF16 or AMX)')


@pytest.mark.slow
def test_torch_compile_matches_eager_mode():
    torch.manual_seed(0)
    model = randomize_(UniFormer('test', attn_mode='hybrid',
                                 window_size=5)).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        ref = model(x)
        outs = torch.compile(model)(x)
    for out, r in zip(outs, ref):
        torch.testing.assert_close(out, r, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('kind', ['hybrid', '3d'])
def test_in_place_inference_matches_allocating_build(kind):
    """Without autograd the blocks add residuals and apply the GELU in
    place; outputs equal those of ``in_place=False`` and of the tracked
    computation, and the caller's input is kept."""
    torch.manual_seed(0)
    if kind == '3d':
        build = dict(cls=UniFormer3D, arch='test')
        x = torch.randn(1, 3, 4, 64, 64)
    else:
        build = dict(
            cls=UniFormer,
            arch=dict(ARCH_ZOO_2D['test'], layer_scale=True),
            attn_mode='hybrid',
            window_size=5)
        x = torch.randn(1, 3, 96, 64)
    cls = build.pop('cls')
    model = randomize_(cls(**build, drop_path_rate=0.1)).eval()
    allocating = cls(
        **build, drop_path_rate=0.1, fast_paths=dict(in_place=False)).eval()
    allocating.load_state_dict(model.state_dict())
    x_before = x.clone()
    tracked = model(x)
    assert tracked[-1].requires_grad
    with torch.no_grad():
        outs, refs = model(x), allocating(x)
    torch.testing.assert_close(x, x_before, rtol=0, atol=0)
    for out, ref, tr in zip(outs, refs, tracked):
        torch.testing.assert_close(out, ref, rtol=0, atol=0)
        torch.testing.assert_close(out, tr, rtol=1e-5, atol=1e-6)
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        mixed = model(x)
    for out, ref in zip(mixed, refs):  # fp32 input + bf16 branches
        assert ((out.float() - ref).norm() / ref.norm()) < 0.05


# ------------------------------------------------------------ the switch
@pytest.mark.parametrize('cls,arch', [(UniFormer, 'test'),
                                      (UniFormer3D, 'test'),
                                      (UniFormerLight, 'xxs'),
                                      (UniFormerLight3D, 'xxs')])
def test_one_fast_paths_object_reaches_every_block(cls, arch):
    """The backbone builds one FastPaths and passes it down by keyword:
    every block and its attention / MLP hold that same object."""
    model = cls(arch, fast_paths=dict(fused_attn=False, in_place=False))
    chosen = model.fast_paths
    assert chosen == FastPaths(
        fused_attn=False,
        channels_last=True,
        recompute_gelu=True,
        in_place=False)
    holders = [
        m for m in model.modules()
        if isinstance(vars(m).get('fast_paths'), FastPaths)
    ]
    blocks = [m for m in model.modules() if hasattr(m, 'mlp')]
    assert len(holders) == 1 + 2 * len(blocks) + sum(
        hasattr(b.attn, 'qkv') for b in blocks)
    assert all(m.fast_paths is chosen for m in holders)


def test_fast_paths_presets_and_shorthands():
    assert FastPaths.build('fast') == FastPaths()
    assert FastPaths.build('reference') == FastPaths(False, False, False,
                                                     False, False, False)
    model = UniFormer('test', fast_paths=dict(channels_last=False))
    assert model.fast_paths == FastPaths(True, False, True, True, True, True)


@pytest.mark.parametrize(
    'legacy', ['fused_attn', 'channels_last', 'recompute_gelu', 'in_place'])
def test_legacy_switch_arguments_are_gone(legacy):
    """One switch: the flags go through ``fast_paths=dict(...)`` only."""
    with pytest.raises(TypeError, match=legacy):
        UniFormer('test', **{legacy: False})


@pytest.mark.parametrize(
    'spec', ['quick', dict(fused=False),
             dict(in_place=1), 3])
def test_fast_paths_refuses_what_it_does_not_know(spec):
    with pytest.raises(ValueError, match=r"'fast', 'reference'.*FastPaths"):
        UniFormer('test', fast_paths=spec)
