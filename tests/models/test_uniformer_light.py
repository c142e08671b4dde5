"""Hourglass UniFormer (XXS / XS): presets, token shrinking/recovering,
official layouts, freezing, checkpointing and errors (loading:
tests/checkpoints/test_light_checkpoints.py)."""
import math
import threading

import pytest
import torch
import torch.nn.functional as F
from conftest import randomize_

from uniformer_mm.models import (ARCH_ZOO_LIGHT_2D, ARCH_ZOO_LIGHT_3D,
                                 UniFormerLight, UniFormerLight3D,
                                 unpruned_arch)
from uniformer_mm.models.uniformer_light import _Tokens, hourglass_block

CLASSIFIER = ('head.', 'head_cls.', 'norm_cls.', 'norm.')
OUTPUT_NORMS = ('norm1.', 'norm2.', 'norm3.', 'norm4.')
BUFFERS = ('running_mean', 'running_var', 'num_batches_tracked')


def _n_params(shapes):
    return sum(
        math.prod(s) for k, s in shapes.items() if not k.endswith(BUFFERS))


def _shapes(model):
    return {k: list(v.shape) for k, v in model.state_dict().items()}


# ------------------------------------------------------------ official layout
@pytest.mark.parametrize('preset', ['xxs', 'xs'])
def test_dense_presets_have_exactly_the_official_tensors(
        preset, official_keys):
    assert _shapes(
        UniFormerLight(preset)) == official_keys[f'light_dense_{preset}']


@pytest.mark.parametrize('preset, paper_millions', [('xxs', 10.2),
                                                    ('xs', 16.5)])
def test_param_counts_equal_the_official_classifiers(preset, paper_millions,
                                                     official_keys):
    model = UniFormerLight(preset)
    shapes = official_keys[f'cls_light_{preset}']
    theirs = {k: v for k, v in shapes.items() if not k.startswith(CLASSIFIER)}
    ours = {
        k: v
        for k, v in _shapes(model).items() if not k.startswith(OUTPUT_NORMS)
    }
    assert ours == theirs
    classifier = _n_params({
        k: v
        for k, v in shapes.items() if k.startswith(CLASSIFIER)
    })
    output_norms = 2 * sum(model.embed_dims)
    total = sum(p.numel() for p in model.parameters())
    assert total - output_norms + classifier == _n_params(shapes)
    # the paper's figure counts both ImageNet heads (patch and class token)
    assert round(_n_params(shapes) / 1e6, 1) == paper_millions


@pytest.mark.parametrize('preset', ['xxs', 'xs', 'xxs-ls'])
def test_3d_presets_are_the_official_models_inflated(preset, official_keys):
    """Same keys as the official video models (the ImageNet classifier's
    minus the heads); 2D kernels gain a time axis."""
    shapes = official_keys[f'cls_light_{preset.replace("-ls", "")}']
    ours = _shapes(UniFormerLight3D(preset))
    gammas = {k for k in ours if '.gamma_' in k}
    assert bool(gammas) == preset.endswith('-ls')
    theirs = {
        k: v
        for k, v in shapes.items()
        if not k.startswith(('head.', 'head_cls.', 'norm_cls.'))
    }
    assert set(ours) - gammas == set(theirs)
    for key, shape in theirs.items():
        got = ours[key]
        if len(got) == 5:
            got = got[:2] + got[3:]
        assert got == shape, key
    stem = UniFormerLight3D(preset).patch_embed1.proj
    assert [stem[i].stride for i in (0, 3)] == [(1, 2, 2), (2, 2, 2)]


# ------------------------------------------------------------- forward shapes
@pytest.mark.parametrize('size', [(224, 224), (97, 161), (64, 32), (32, 32)])
def test_forward_shapes(size):
    model = UniFormerLight('xxs').eval()
    with torch.no_grad():
        outs = model(torch.randn(2, 3, *size))
    h, w = -(-size[0] // 4), -(-size[1] // 4)  # the conv stem rounds up
    expected = []
    for dim in model.embed_dims:
        expected.append((2, dim, h, w))
        h, w = h // 2, w // 2
    assert [tuple(o.shape) for o in outs] == expected
    assert all(torch.isfinite(o).all() for o in outs)


def test_3d_forward_shapes_and_outputs():
    model = UniFormerLight3D('test', out_indices=(0, 2, 3)).eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 8, 64, 96))
    assert [tuple(o.shape) for o in outs] == [(1, 16, 4, 16, 24),
                                              (1, 64, 4, 4, 6),
                                              (1, 128, 4, 2, 3)]
    with torch.no_grad():
        single = UniFormerLight3D('test').eval()(torch.randn(1, 3, 4, 64, 64))
    assert tuple(single.shape) == (1, 128, 2, 2, 2)  # the default: stage 4


# --------------------------------------------------------------- the hourglass
def _attended_lengths(model, x):
    """Sequence length each stage-3/4 attention sees."""
    lengths = []
    handles = [
        block.attn.register_forward_hook(
            lambda m, i, o: lengths.append(i[0].shape[1]))
        for block in (*model.blocks3, *model.blocks4)
    ]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return lengths


def test_shrink_keeps_the_top_tokens_plus_class_and_representative():
    model = UniFormerLight('xxs').eval()
    lengths = _attended_lengths(model, torch.randn(1, 3, 224, 160))
    n3, n4 = 14 * 10, 7 * 5
    assert lengths == [n3 + 1
                       ] + [int(n3 * .5) + 2] * 7 + [int(n4 * .5) + 2] * 2


@pytest.mark.parametrize('preset', ['xxs', 'xs'])
def test_unpruned_arch_keeps_every_token(preset):
    arch = unpruned_arch(preset)
    assert all(r == 1 for stage in arch['prune_ratios'] for r in stage)
    model = UniFormerLight(arch).eval()
    lengths = _attended_lengths(model, torch.randn(1, 3, 128, 96))
    depths = model.depths
    assert lengths == [32 * 24 // 16 + 1] * depths[2] + [4 * 3 + 1] * depths[3]
    video = UniFormerLight3D(unpruned_arch(preset, ARCH_ZOO_LIGHT_3D)).eval()
    assert len(
        set(
            _attended_lengths(video, torch.randn(1, 3, 4, 64,
                                                 64))[:depths[2]])) == 1


def test_unpruned_model_needs_no_scores_and_loads_the_same_weights():
    pruned = randomize_(UniFormerLight('test')).eval()
    full = UniFormerLight(
        dict(
            ARCH_ZOO_LIGHT_2D['test'],
            prune_ratios=[[], [], [1, 1, 1], [1, 1]])).eval()
    full.load_state_dict(pruned.state_dict())
    assert full._track == [[False] * 3, [False] * 2]
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, b = pruned(x), full(x)
    assert not torch.allclose(a[3], b[3])  # pruning changes stage 4
    torch.testing.assert_close(a[1], b[1])  # not the convolution stages


def _reference_block(block, cls_token, x, scores, ratio, trade_off):
    """The hourglass step written out per sample with explicit attention,
    as the paper describes it."""
    x = x + block.pos_embed(x)
    B, C, H, W = x.shape
    cls_out, x_out, s_out = [], [], []
    for b in range(B):
        tokens = x[b].flatten(1).t()  # (N, C)
        N = tokens.shape[0]
        keep = int(N * ratio)
        order = sorted(range(N), key=lambda i: -float(scores[b, i]))
        kept, dropped = order[:keep], order[keep:]
        w = scores[b, dropped] / scores[b, dropped].sum()
        rep = (w[:, None] * tokens[dropped]).sum(0, keepdim=True)
        seq = torch.cat([cls_token[b], tokens[kept], rep])
        y = block.norm1(seq)
        qkv = block.attn.qkv(y).view(len(seq), 3, block.attn.num_heads, -1)
        q, k, v = qkv.permute(1, 2, 0, 3)
        attn = (q @ k.transpose(-2, -1) * block.attn.scale).softmax(-1)
        y = block.attn.proj((attn @ v).transpose(0, 1).reshape(len(seq), C))
        seq = seq + y
        z = block.mlp(block.norm2(seq))
        seq = seq + z
        new_scores = scores[b].clone()
        cls_attn = attn[:, 0, 1:].mean(0)
        for j, i in enumerate(kept + (dropped if len(dropped) == 1 else [])):
            new_scores[i] = (1 - trade_off) * scores[b, i] + (
                trade_off * cls_attn[j])
        out = tokens.clone()
        out[kept] = seq[1:-1]
        out[dropped] = tokens[dropped] + y[-1] + z[-1]
        cls_out.append(seq[:1])
        x_out.append(out.t().reshape(C, H, W))
        s_out.append(new_scores)
    return torch.stack(cls_out), torch.stack(x_out), torch.stack(s_out)


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('ratio, size', [(.5, (5, 7)), (.3, (4, 4)),
                                         (.5, (1, 2))])
def test_hourglass_block_matches_the_written_out_algorithm(fused, ratio, size):
    model = randomize_(
        UniFormerLight('test', fast_paths=dict(fused_attn=fused))).eval()
    block = model.blocks3[1]
    cls_token = torch.randn(2, 1, 64)
    x = torch.randn(2, 64, *size)
    scores = torch.rand(2, size[0] * size[1]).softmax(1)
    with torch.no_grad():
        got = hourglass_block(block, _Tokens(cls_token, x, scores), ratio, .3,
                              True)
        expected = _reference_block(block, cls_token, x, scores, ratio, .3)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_scores_are_pooled_to_stage_4_keeping_their_sum():
    from uniformer_mm.models.uniformer_light import _pool_scores
    scores = torch.rand(2, 6 * 4)
    pooled = _pool_scores(scores, (6, 4))
    assert pooled.shape == (2, 6)
    torch.testing.assert_close(pooled.sum(1), scores.sum(1))
    expected = F.avg_pool2d(scores.view(2, 1, 6, 4), 2).flatten(1)
    torch.testing.assert_close(pooled / pooled[:, :1],
                               expected / expected[:, :1])


# -------------------------------------------------- no state between models
def test_two_models_in_one_process_give_the_same_results_as_each_alone():
    a = randomize_(UniFormerLight('test')).eval()
    b = randomize_(UniFormerLight('test')).eval()
    xa, xb = torch.randn(2, 3, 64, 96), torch.randn(1, 3, 96, 64)
    with torch.no_grad():
        alone_a, alone_b = a(xa), b(xb)
    # b runs in full in the middle of a's stage 3 (the official code keeps
    # the scores in module globals, which b would overwrite) ...
    nested = {}

    def run_b(module, args):
        nested.setdefault('b', b(xb))

    hook = a.blocks3[1].attn.register_forward_pre_hook(run_b)
    with torch.no_grad():
        inner_a = a(xa)
    hook.remove()
    # ... and side by side in two threads
    threaded = {}

    def run(name, model, x):
        with torch.no_grad():
            threaded[name] = [model(x) for _ in range(3)]

    threads = [
        threading.Thread(target=run, args=args)
        for args in (('a', a, xa), ('b', b, xb))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in [inner_a] + threaded['a']:
        for p, q in zip(got, alone_a):
            torch.testing.assert_close(p, q)
    for got in [nested['b']] + threaded['b']:
        for p, q in zip(got, alone_b):
            torch.testing.assert_close(p, q)
    assert not [n for n, v in vars(a).items() if isinstance(v, torch.Tensor)]


# ------------------------------------------------- conventions of the family
@pytest.mark.parametrize(
    'switch,shape',
    [
        ('channels_last', (2, 3, 64, 96)),
        ('fused_attn', (2, 3, 80, 72)),  # SDPA against the explicit softmax
        ('in_place', (2, 3, 80, 72)),  # hourglass blocks sum in place too
    ])
def test_switch_off_gives_the_same_numbers(switch, shape):
    fast = randomize_(UniFormerLight('test')).eval()
    off = UniFormerLight('test', fast_paths={switch: False}).eval()
    off.load_state_dict(fast.state_dict())
    x = torch.randn(*shape)
    with torch.no_grad():
        for a, b in zip(fast(x), off(x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('cls', [UniFormerLight, UniFormerLight3D])
def test_with_cp_same_output_and_gradients(cls):
    plain = randomize_(cls('test'))
    checkpointed = cls('test', with_cp=[True, 0, 2, True])
    checkpointed.load_state_dict(plain.state_dict())
    plain.eval(), checkpointed.eval()
    x = torch.randn(2, 3, 64, 64) if cls is UniFormerLight else torch.randn(
        1, 3, 4, 64, 64)
    outs = []
    for model in (plain, checkpointed):
        out = model(x)
        outs.append(
            sum(o.square().sum()
                for o in (out if isinstance(out, tuple) else (out, ))))
    torch.testing.assert_close(outs[0], outs[1])
    for out in outs:
        out.backward()
    for (name, p), q in zip(plain.named_parameters(),
                            checkpointed.parameters()):
        torch.testing.assert_close(p.grad, q.grad, msg=name)
    # the scores are not detached: the merge weights train earlier blocks
    assert plain.cls_token.grad.abs().sum() > 0


def test_frozen_stages_include_class_token_and_its_projection():
    model = UniFormerLight('test', frozen_stages=3, norm_eval=True).train()
    assert not model.cls_token.requires_grad
    assert model.cls_upsample.weight.requires_grad
    assert not model.blocks3.training and model.blocks4.training
    assert all(not m.training for m in model.modules()
               if isinstance(m, torch.nn.BatchNorm2d))  # norm_eval
    model = UniFormerLight('test', frozen_stages=4).train()
    assert not model.cls_upsample.weight.requires_grad
    assert not any(p.requires_grad for p in model.parameters())
    video = UniFormerLight3D('test', frozen_stages=4).train()
    assert not video.norm.training and not video.norm.weight.requires_grad


def test_default_init_matches_official():
    model = UniFormerLight('test')
    model.init_weights()
    assert torch.equal(model.cls_token, torch.zeros(1, 1, 64))
    assert torch.equal(model.cls_upsample.bias, torch.zeros(128))
    # trunc_normal_(std=.02) of 8192 values: their std within 10% of 0.02
    assert abs(model.cls_upsample.weight.std() - 0.02) < 0.002


@pytest.mark.parametrize('arch, fragment', [
    ('xxl', "Valid presets: 'xxs', 'xs'"),
    (dict(ARCH_ZOO_LIGHT_2D['test'], prune_ratios=[[], [], [1, .5], [.5, .5]]),
     '3 and 2 entries for stages 3-4'),
    (dict(
        ARCH_ZOO_LIGHT_2D['test'],
        prune_ratios=[[], [], [.5, .5, .5], [.5, .5]
                      ]), r'prune_ratios\[2\]\[0\] must be 1'),
    (dict(
        ARCH_ZOO_LIGHT_2D['test'], prune_ratios=[
            [], [], [1, 0, .5], [.5, .5]
        ]), r'prune_ratios\[2\]\[1\] \(stage 3, block 1\) must be a number in '
     r'\(0.0, 1\]'),
    (dict(
        ARCH_ZOO_LIGHT_2D['test'], trade_offs=[[], [], [1, .5, 1.5], [.5, .5]
                                               ]), r'trade_offs\[2\]\[2\]'),
    (dict(ARCH_ZOO_LIGHT_2D['test'], prune=[]), "unknown keys \\['prune'\\]"),
])
def test_bad_arch(arch, fragment):
    with pytest.raises(ValueError, match=fragment):
        UniFormerLight(arch)


def test_bad_arguments():
    with pytest.raises(ValueError, match='inflate_mode'):
        UniFormerLight3D('test', inflate_mode='middle')
    with pytest.raises(ValueError, match='in_channels=3'):
        UniFormerLight('test')(torch.randn(1, 1, 64, 64))
    with pytest.raises(ValueError, match='presets'):
        UniFormerLight3D('xxs-lss')
