"""FLOP counting (uniformer_mm.analysis.flops, tools/analysis/get_flops.py)
against multiply-adds computed by hand.

Convention (fvcore's, the paper's): one multiply-add is one FLOP; a conv
costs out_elements * (in_channels / groups) * kernel volume, a linear layer
tokens * in * out, q k^T and attn v each heads * N * M * head_dim per
sequence; LayerNorm 5 and eval BatchNorm 2 per element (fvcore's rough
norm estimates); element-wise ops nothing.
"""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from uniformer_mm import UniFormer
from uniformer_mm.analysis.flops import (count_flops, sdpa_flop_jit,
                                         set_fused_attention)
from uniformer_mm.models import UniFormerLight
from uniformer_mm.models.blocks import Attention, AttentionBlock, ConvBlock

ROOT = Path(__file__).resolve().parents[2]


def _attention_macs(tokens, dim, heads, seq_len=None, sequences=1):
    """qkv + q k^T + attn v + proj over ``sequences`` of ``seq_len``."""
    seq_len = tokens if seq_len is None else seq_len
    head_dim = dim // heads
    linear = sequences * seq_len * (dim * 3 * dim + dim * dim)
    matmuls = sequences * heads * seq_len * seq_len * head_dim * 2
    return linear + matmuls


@pytest.mark.parametrize('fused', [True, False])
def test_attention_by_formula(fused):
    dim, heads, tokens = 32, 2, 49
    attn = Attention(dim, heads, fast_paths=dict(fused_attn=fused)).eval()
    result = count_flops(attn, (torch.randn(3, tokens, dim), ))
    # q k^T: 3 * 2 * 49 * 49 * 16, attn v the same, + qkv and proj
    assert result['flops'] == 3 * _attention_macs(tokens, dim, heads)
    assert result['flops'] == 3 * (49 *
                                   (32 * 96 + 32 * 32) + 2 * 2 * 49 * 49 * 16)
    op = 'scaled_dot_product_attention' if fused else 'matmul'
    assert result['by_operator'][op] == 3 * 2 * 2 * 49 * 49 * 16


def _block_macs(dim, heads, height, width, window=None, mlp_ratio=4):
    tokens = height * width
    macs = tokens * dim * 9  # depth-wise 3x3 position embedding
    macs += 2 * 5 * tokens * dim  # norm1, norm2 (LayerNorm, affine)
    if window is None:
        macs += _attention_macs(tokens, dim, heads)
    else:
        # the normalised tokens are zero-padded to whole windows, and the
        # padding is attended to: every window costs a full window
        rows, cols = -(-height // window), -(-width // window)
        macs += _attention_macs(None, dim, heads, window * window, rows * cols)
    macs += 2 * tokens * dim * dim * mlp_ratio  # fc1, fc2
    return macs


@pytest.mark.parametrize('fused', [True, False])
@pytest.mark.parametrize('window', [None, 4])
def test_attention_block_global_and_window(fused, window):
    dim, heads, height, width = 32, 2, 10, 9  # 10x9 -> 3x3 windows of 4x4
    block = AttentionBlock(
        dim, heads, window_size=window,
        fast_paths=dict(fused_attn=fused)).eval()
    result = count_flops(block, (torch.randn(1, dim, height, width), ))
    assert result['flops'] == _block_macs(dim, heads, height, width, window)
    if window is not None:
        # 9 windows of 16 tokens, not 90 tokens: the window matmuls
        op = 'scaled_dot_product_attention' if fused else 'matmul'
        assert result['by_operator'][op] == 9 * heads * 16 * 16 * 16 * 2


def test_conv_block_by_formula():
    dim, height, width = 16, 6, 5
    block = ConvBlock(dim).eval()
    result = count_flops(block, (torch.randn(1, dim, height, width), ))
    pixels = height * width
    expected = pixels * dim * (9 + 25)  # pos_embed 3x3, attn 5x5 depth-wise
    expected += 2 * pixels * dim * dim  # conv1, conv2
    expected += 2 * pixels * dim * dim * 4  # mlp fc1, fc2
    expected += 2 * 2 * pixels * dim  # two eval BatchNorms
    assert result['flops'] == expected


def test_backbone_fused_equals_eager_and_counts_attention():
    torch.manual_seed(0)
    model = UniFormer('test', attn_mode='hybrid', window_size=3).eval()
    x = torch.randn(1, 3, 96, 64)
    fused = count_flops(model, (x, ))
    assert set_fused_attention(model, False) == 5
    eager = count_flops(model, (x, ))
    assert fused['flops'] == eager['flops']
    assert 'scaled_dot_product_attention' in fused['by_operator']
    assert not any('scaled_dot' in op for op in fused['unsupported'])
    # stage 3 (6x4 tokens, 4 heads of 16): blocks 1-3 in 3x3 windows (the
    # 4 columns padded to 6: 2x2 windows of 9 tokens), block 4 global;
    # stage 4 (3x2 tokens, 8 heads) global
    attn = ((3 * 4 * 4 * 9 * 9 * 16 * 2) + (4 * 24 * 24 * 16 * 2) +
            (8 * 6 * 6 * 16 * 2))
    assert fused['by_operator']['scaled_dot_product_attention'] == attn


def test_hourglass_counts_the_reduced_tokens():
    """Pruned blocks attend over the kept tokens + class token + one
    representative token, and that is what is counted."""
    arch = dict(
        depths=[1, 1, 2, 1],
        embed_dims=[16, 32, 64, 128],
        head_dim=32,
        conv_stem=True,
        prune_ratios=[[], [], [1., .5], [.5]],
        trade_offs=[[], [], [1., .5], [.5]])
    model = UniFormerLight(arch=arch).eval()
    result = count_flops(model, (torch.randn(1, 3, 64, 64), ))
    # 64x64 input: stage 3 has 4x4 = 16 tokens, stage 4 2x2 = 4 (head_dim
    # 32: 2 and 4 heads). Stage-3 block 1 keeps all: 16 + cls = 17 tokens;
    # block 2 keeps 8 + cls + representative = 10; stage 4 keeps
    # 2 + cls + representative = 4.
    expected = (2 * 17 * 17 * 32 * 2) + (2 * 10 * 10 * 32 * 2) + (4 * 4 * 4 *
                                                                  32 * 2)
    assert result['by_operator']['scaled_dot_product_attention'] == expected
    set_fused_attention(model, False)
    eager = count_flops(model, (torch.randn(1, 3, 64, 64), ))
    # the eager path reads the class-token scores off its attention map;
    # the fused one computes them with one extra small matmul
    assert eager['by_operator']['matmul'] == expected


def test_sdpa_handle_broadcasts_and_value_dim():

    class FakeValue:

        def __init__(self, shape):
            self.shape = shape

        def isCompleteTensor(self):
            return True

        def type(self):
            return self

        def sizes(self):
            return self.shape

    q, k, v = FakeValue([2, 3, 5, 8]), FakeValue([2, 3, 7,
                                                  8]), FakeValue([2, 3, 7, 4])
    assert sdpa_flop_jit([q, k, v], []) == 2 * 3 * 5 * 7 * (8 + 4)


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        'get_flops', ROOT / 'tools/analysis/get_flops.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_imagenet_small_matches_paper():
    """UniFormer-S at 224: paper 3.6G, measured 3.64G (fvcore, the SDPA
    handle included)."""
    tool = _load_tool()
    result = tool.measure('imagenet:small')
    assert result['shape'] == (224, 224)
    assert abs(result['flops'] / 1e9 - 3.6) / 3.6 < 0.02
    assert 21.4e6 < result['params'] < 22.1e6


def test_cli_on_demo_detector():
    config = (
        ROOT / 'configs/detection/demo/'
        'mask-rcnn_uniformer-tiny_fpn_synthetic.py')
    done = subprocess.run([
        sys.executable,
        str(ROOT / 'tools/analysis/get_flops.py'),
        str(config), '--shape', '128', '160'
    ],
                          capture_output=True,
                          text=True,
                          timeout=300,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert 'input:  128×160' in done.stdout
    flops = float(done.stdout.split('FLOPs:')[1].split()[0])
    assert flops > 0
    # the proposals are fixed, so the count is reproducible
    again = subprocess.run([
        sys.executable,
        str(ROOT / 'tools/analysis/get_flops.py'),
        str(config), '--shape', '128', '160', '--eager-attn'
    ],
                           capture_output=True,
                           text=True,
                           timeout=300,
                           cwd=ROOT)
    assert again.returncode == 0, again.stderr
    assert float(again.stdout.split('FLOPs:')[1].split()[0]) == flops


def test_cli_needs_a_model():
    done = subprocess.run(
        [sys.executable,
         str(ROOT / 'tools/analysis/get_flops.py')],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT)
    assert done.returncode != 0
    assert '--imagenet' in done.stderr
