"""The fast paths of the blocks, and the one switch that chooses them.

:mod:`.blocks` writes each block as the paper's computation; where a faster
implementation of a step exists, the block makes one call into its
:class:`FastPaths` (``self.fast_paths``), which either runs the fast
version or leaves the step to the block's own code. Every fast path gives
the same numbers as the official computation (bit for bit in float32, see
``tools/analysis/compare_outputs.py`` and ``tests/models/test_fast_paths.py``):

* ``fused_attn``: ``F.scaled_dot_product_attention`` instead of the explicit
  ``softmax(q k^T) v`` (no attention map in memory); windows gathered
  straight from the qkv projection of the map instead of copied partitions;
  for bf16 inference on a CPU with native bf16, a blocked attention of
  plain matrix products (:func:`blocked_attention`);
* ``channels_last``: the blocks run on channels-last maps, so every move
  between a map and its token sequence is a view;
* ``recompute_gelu``: in training the MLPs keep only their hidden
  pre-activation and recompute the GELU in backward (:class:`GeluLinear`);
* ``in_place``: without autograd the blocks add residuals and apply the
  MLPs' GELU in place in tensors they made themselves;
* ``depthwise_backward``: on the CPU, the depth-wise convolutions' backward
  as forward convolutions (:class:`DepthwiseConv`; PyTorch's CPU depth-wise
  backward kernels are slow paths);
* ``recompute_norm``: in training, a BatchNorm's output that feeds a 1x1
  convolution is recomputed in backward instead of kept
  (:class:`NormPointwise`).

The backbones build one :class:`FastPaths` from their ``fast_paths``
argument (``'fast'``, ``'reference'``, a dict of the flags above or a
:class:`FastPaths`) and pass it to every block by keyword.

The hardware checks (:func:`cpu_bf16_native`, :func:`cpu_capability`) live
here too: the blocked bf16 attention only pays where the CPU multiplies
bf16 in hardware. Without AVX512-BF16 or AMX (e.g. an AVX2-only x86 CPU)
PyTorch emulates bf16 and matrix products run ~10-60x slower than in
float32 (a 1024x1024 product: 49 GFLOP/s float32, 0.8 GFLOP/s bf16
measured on an AVX2 machine).
"""
import dataclasses
import functools
from typing import Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F


@functools.lru_cache(maxsize=None)
def cpu_bf16_native() -> bool:
    """Whether this CPU computes bf16 matrix products in hardware.

    True with AVX512-BF16 or AMX (x86). Other CPUs report False, so code
    that is faster only with native bf16 stays on the float32 path there.
    """
    checks = ('_is_avx512_bf16_supported', '_is_amx_tile_supported')
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def cpu_capability() -> str:
    """This CPU's vector capability in words, e.g. ``'AVX2, no native
    bf16'`` or ``'AVX512, native bf16 (avx512_bf16)'``."""
    base = torch.backends.cpu.get_cpu_capability()
    if not cpu_bf16_native():
        return f'{base}, no native bf16 (needs AVX512-BF16 or AMX)'
    units = [
        name for name, check in (('avx512_bf16', '_is_avx512_bf16_supported'),
                                 ('amx', '_is_amx_tile_supported'))
        if getattr(torch.cpu, check, lambda: False)()
    ]
    return f'{base}, native bf16 ({", ".join(units)})'


# ------------------------------------------------------------------ helpers
def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` in channels-last memory (NHWC / NTHWC) with its NCHW shape.

    The blocks alternate convolutions with per-token LayerNorm / attention /
    MLP; in this layout the moves between the two are free views, and
    oneDNN / cuDNN convolutions run without layout reorders.
    """
    fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
    return x.contiguous(memory_format=fmt)


def _untracked(t: torch.Tensor) -> bool:
    """Whether autograd ignores ``t``, so a block may update its own fresh
    tensor ``t`` in place (inference: fewer and smaller allocations; on the
    CPU each new large tensor pays a page fault per 4 KiB)."""
    return not (torch.is_grad_enabled() and t.requires_grad)


class GeluLinear(torch.autograd.Function):
    """``linear(gelu(h), weight, bias)`` that saves ``h`` only.

    Autograd would keep both ``h`` and ``gelu(h)`` -- each 4x the block
    width, the largest activations of every block. Recomputing the GELU in
    the backward pass costs one element-wise op and frees one of them.
    """

    @staticmethod
    def forward(ctx, h, weight, bias):
        ctx.save_for_backward(h, weight)
        ctx.has_bias = bias is not None
        return F.linear(F.gelu(h), weight, bias)

    @staticmethod
    def backward(ctx, grad_out):
        h, weight = ctx.saved_tensors
        act = F.gelu(h)
        grad_h = torch.ops.aten.gelu_backward(grad_out @ weight, h)
        grad_weight = grad_out.flatten(0, -2).t() @ act.flatten(0, -2)
        grad_bias = grad_out.flatten(0, -2).sum(0) if ctx.has_bias else None
        return grad_h, grad_weight, grad_bias


def _conv3x3_weight_grad(x: torch.Tensor, grad_out: torch.Tensor,
                         padding: int) -> torch.Tensor:
    """PyTorch's weight gradient of a 2D depth-wise 3x3 convolution: the one
    fast CPU kernel (channels-last: 0.4 ms at 8x64x56x56)."""
    C = x.shape[1]
    return torch.ops.aten.convolution_backward(
        grad_out, x, x.new_empty(C, 1, 3, 3), None, [1, 1],
        [padding, padding], [1, 1], False, [0, 0], C,
        [False, True, False])[1]


def _depthwise_weight_grad(x: torch.Tensor, grad_out: torch.Tensor,
                           kernel: int) -> torch.Tensor:
    """The weight gradient of a depth-wise 'same' convolution, (C, 1, k...).

    PyTorch's CPU kernels for it are fast only for 2D channels-last 3x3
    (measured here: 2D 3x3 2.2 ms, 2D 5x5 66 ms at 2x64x200x304; 3D 3x3x3
    16 ms at 1x64x8x56x56), so the others are built from that one or from
    forward convolutions:

    * 2D, k>3: k x k offsets as overlapping 3x3 blocks of offsets, each a
      3x3 gradient of a crop of the padded input (2x faster for 5x5);
    * 3D, k=3: one 2D 3x3 gradient per temporal offset on (T*N) frames
      (10x faster);
    * 3D, k>3: per sample, a grouped convolution of the input with the
      output gradient as its kernel, one output channel per channel
      (2.2x faster).
    """
    N, C, *space = x.shape
    pad = kernel // 2
    if kernel == 3 and x.dim() == 4:
        return _conv3x3_weight_grad(x, grad_out, 1)
    if x.dim() == 4:
        H, W = space
        padded = F.pad(x, (pad, pad, pad, pad))
        out = x.new_empty(C, 1, kernel, kernel)
        starts = sorted({*range(0, kernel - 2, 2), kernel - 3})
        for i in starts:
            for j in starts:
                crop = padded[:, :, i:i + H + 2, j:j + W + 2].contiguous(
                    memory_format=torch.channels_last)
                out[:, :, i:i + 3, j:j + 3] = _conv3x3_weight_grad(
                    crop, grad_out, 0)
        return out
    if kernel == 3:
        # time-major channels-last (T, N, H, W, C): each temporal offset's
        # frames are one contiguous (T*N, C, H, W) channels-last map
        T, H, W = space
        x_t = F.pad(x, (0, 0, 0, 0, pad, pad)).permute(2, 0, 3, 4, 1)
        x_t = x_t.contiguous()
        g_t = grad_out.permute(2, 0, 3, 4, 1).reshape(T * N, H, W, C)
        grads = [
            _conv3x3_weight_grad(
                x_t[dt:dt + T].reshape(T * N, H, W, C).permute(0, 3, 1, 2),
                g_t.permute(0, 3, 1, 2), 1) for dt in range(kernel)
        ]
        return torch.stack(grads, dim=2)
    return sum(
        F.conv3d(
            x[n:n + 1].transpose(0, 1).reshape(1, C, *space),
            grad_out[n:n + 1].transpose(0, 1),
            padding=pad,
            groups=C) for n in range(N)).view(C, 1, kernel, kernel, kernel)


class DepthwiseConv(torch.autograd.Function):
    """A depth-wise convolution (stride 1, zero 'same' padding, odd cubic
    kernel) with a faster CPU backward than PyTorch's.

    The input gradient of such a convolution is the same convolution of the
    output gradient with the kernel flipped in space: a forward convolution,
    which oneDNN runs 16x faster in 3D than the backward kernel (1.8 vs
    29.5 ms at 1x64x8x56x56, 5x5x5). The weight gradient: see
    :func:`_depthwise_weight_grad`. Same numbers up to float32 summation
    order (~1e-6 relative).
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        conv = F.conv3d if x.dim() == 5 else F.conv2d
        return conv(x, weight, bias, padding=weight.shape[-1] // 2,
                    groups=weight.shape[0])

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        kernel, space = weight.shape[-1], tuple(range(2, x.dim()))
        conv = F.conv3d if x.dim() == 5 else F.conv2d
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = conv(grad_out, weight.flip(space), padding=kernel // 2,
                          groups=weight.shape[0])
        if ctx.needs_input_grad[1]:
            grad_w = _depthwise_weight_grad(x, grad_out, kernel)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum((0, ) + space)
        return grad_x, grad_w, grad_b


def _same_depthwise(conv: nn.Module) -> bool:
    """Whether ``conv`` is a depth-wise 'same' convolution that
    :class:`DepthwiseConv` computes: stride 1, no dilation, zero padding of
    half an odd cubic kernel, one filter per channel."""
    k = conv.kernel_size
    return (isinstance(conv, (nn.Conv2d, nn.Conv3d))
            and conv.groups == conv.in_channels == conv.out_channels
            and len(set(k)) == 1 and k[0] % 2 == 1
            and set(conv.stride) == {1} and set(conv.dilation) == {1}
            and conv.padding == (k[0] // 2, ) * len(k)
            and conv.padding_mode == 'zeros')


class NormPointwise(torch.autograd.Function):
    """``conv(batch_norm(x))``, a training-mode BatchNorm followed by a 1x1
    convolution, that saves ``x`` only.

    Autograd keeps both the norm's input (for its own backward) and its
    output (for the convolution's weight gradient), two maps of the stage's
    full size; the output is recomputed in backward from ``x`` and the
    batch statistics (one element-wise pass). Running statistics are updated
    once, in forward, by PyTorch's own kernel.
    """

    @staticmethod
    def forward(ctx, x, bn_weight, bn_bias, running_mean, running_var,
                conv_weight, conv_bias, momentum, eps):
        y, mean, invstd = torch.ops.aten.native_batch_norm(
            x, bn_weight, bn_bias, running_mean, running_var, True, momentum,
            eps)
        conv = F.conv3d if x.dim() == 5 else F.conv2d
        ctx.save_for_backward(x, bn_weight, bn_bias, mean, invstd,
                              conv_weight)
        ctx.eps, ctx.has_conv_bias = eps, conv_bias is not None
        return conv(y, conv_weight, conv_bias)

    @staticmethod
    def backward(ctx, grad_out):
        x, bn_weight, bn_bias, mean, invstd, conv_weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        shape = (1, -1) + (1, ) * (x.dim() - 2)
        scale = (invstd * bn_weight).view(shape)
        y = torch.addcmul((bn_bias - mean * invstd * bn_weight).view(shape),
                          x, scale)
        space = x.dim() - 2
        grad_y, grad_cw, grad_cb = torch.ops.aten.convolution_backward(
            grad_out, y, conv_weight,
            [conv_weight.shape[0]] if ctx.has_conv_bias else None,
            [1] * space, [0] * space, [1] * space, False, [0] * space, 1,
            [any(need[:3]), need[5], ctx.has_conv_bias and need[6]])
        del y
        grad_x = grad_w = grad_b = None
        if any(need[:3]):
            grad_x, grad_w, grad_b = torch.ops.aten.native_batch_norm_backward(
                grad_y, x, bn_weight, None, None, mean, invstd, True, ctx.eps,
                list(need[:3]))
        return (grad_x, grad_w, grad_b, None, None, grad_cw, grad_cb, None,
                None)


def _plain_batch_norm_then_1x1(norm: nn.Module, conv: nn.Module) -> bool:
    """Whether ``conv(norm(x))`` is what :class:`NormPointwise` computes: a
    plain affine BatchNorm2d/3d with running statistics in training mode
    (not SyncBatchNorm: its statistics span processes), then an ungrouped
    1x1 convolution."""
    return (type(norm) in (nn.BatchNorm2d, nn.BatchNorm3d) and norm.training
            and norm.affine and norm.track_running_stats
            and type(conv) in (nn.Conv2d, nn.Conv3d) and conv.groups == 1
            and set(conv.kernel_size) == {1} and set(conv.stride) == {1}
            and set(conv.padding) == {0})


def _plain_gelu(act: nn.Module, drop: nn.Dropout) -> bool:
    """Whether ``act`` is the exact GELU with no active dropout after it,
    which the MLP fast paths assume."""
    return (type(act) is nn.GELU and (drop.p == 0 or not drop.training))


# Score elements (query rows x keys) one step of the bf16 CPU attention
# materialises: 4 MiB of bf16 stays in this CPU's caches and keeps the two
# matrix products large enough for oneDNN (tuned on 3800-token global, 196-
# token window and 950-token stage-4 attention).
SCORE_BLOCK = 2**21


def _cpu_bf16_inference(q: torch.Tensor, dropout_p: float) -> bool:
    """Whether :func:`attention` takes the blocked bf16 path: only where
    the CPU computes bf16 natively (emulated, its products are slower than
    the fused kernel's)."""
    return (q.device.type == 'cpu' and q.dtype == torch.bfloat16
            and dropout_p == 0. and _untracked(q) and cpu_bf16_native())


def blocked_attention(q: torch.Tensor,
                      k: torch.Tensor,
                      v: torch.Tensor,
                      scale: float,
                      score_block: int = SCORE_BLOCK) -> torch.Tensor:
    """``softmax(q @ k^T * scale) @ v`` in blocks of query rows, for bf16 on
    the CPU without autograd.

    PyTorch's CPU flash kernel runs bf16 no faster than float32 (measured
    0.9x here), while bf16 matrix products run ~2.3x float32; two ``bmm`` and
    a softmax per block of at most ``score_block`` scores use that speed and
    keep memory bounded like the flash kernel (the full map is never held).
    The scores are rounded to bf16 before the softmax (the flash kernel keeps
    them in float32): a relative error of ~1e-2 on the output, the size of
    bf16's own rounding elsewhere in the network.
    """
    *lead, N, d = q.shape
    M, dv = k.shape[-2], v.shape[-1]
    # disabled autocast: the inputs are bf16 already, and the out= product
    # below needs the softmax in bf16
    with torch.autocast('cpu', enabled=False):
        q = (q * scale).reshape(-1, N, d)
        k_t = k.reshape(-1, M, d).transpose(1, 2)
        v = v.reshape(-1, M, dv)
        out = q.new_empty(q.shape[0], N, dv)
        # whole (batch * head) slices per block when they fit (windows),
        # else one slice at a time in blocks of query rows (global)
        group = max(1, min(q.shape[0], score_block // (N * M)))
        rows = max(1, min(N, score_block // (group * M)))
        for b in range(0, q.shape[0], group):
            qb, kb, vb, ob = (t[b:b + group] for t in (q, k_t, v, out))
            for i in range(0, N, rows):
                scores = torch.bmm(qb[:, i:i + rows], kb)
                torch.bmm(scores.softmax(-1), vb, out=ob[:, i:i + rows])
    return out.view(*lead, N, dv)


def attention(q: torch.Tensor,
              k: torch.Tensor,
              v: torch.Tensor,
              scale: float,
              dropout_p: float = 0.) -> torch.Tensor:
    """Fused ``softmax(q @ k^T * scale) @ v`` over (..., tokens, head_dim).

    ``F.scaled_dot_product_attention`` everywhere except bf16 inference on
    a CPU with native bf16 (AVX512-BF16 or AMX), which runs
    :func:`blocked_attention` (1.3-1.9x faster there).
    """
    if _cpu_bf16_inference(q, dropout_p):
        return blocked_attention(q, k, v, scale)
    return F.scaled_dot_product_attention(
        q, k, v, dropout_p=dropout_p, scale=scale)


# ------------------------------------------------------------ the switch
@dataclasses.dataclass(frozen=True)
class FastPaths:
    """Which fast path each block takes (see the module docstring); all off
    is the official computation. Frozen: one object is shared by all the
    blocks of a backbone.

    Args:
        fused_attn (bool): Fused attention kernels and the copy-free window
            gather. Defaults to True.
        channels_last (bool): Channels-last maps in the blocks.
            Defaults to True.
        recompute_gelu (bool): Recompute the MLPs' GELU in backward.
            Defaults to True.
        in_place (bool): In-place residual sums and GELU without autograd.
            Defaults to True.
        depthwise_backward (bool): The depth-wise convolutions' CPU backward
            by :class:`DepthwiseConv`. Defaults to True.
        recompute_norm (bool): In training, recompute the output of each
            BatchNorm that feeds a 1x1 convolution in backward
            (:class:`NormPointwise`). Defaults to True.
    """
    fused_attn: bool = True
    channels_last: bool = True
    recompute_gelu: bool = True
    in_place: bool = True
    depthwise_backward: bool = True
    recompute_norm: bool = True

    @classmethod
    def build(cls,
              spec: Union[str, Mapping, 'FastPaths'],
              owner: str = 'FastPaths') -> 'FastPaths':
        """A :class:`FastPaths` from ``'fast'`` (every path on),
        ``'reference'`` (every path off: the official computation), a dict
        of flags (the others on), or a :class:`FastPaths` itself."""
        if isinstance(spec, cls):
            return spec
        if isinstance(spec, str) and spec in PRESETS:
            return PRESETS[spec]
        names = [f.name for f in dataclasses.fields(cls)]
        if isinstance(spec, Mapping):
            bad = {k: v for k, v in spec.items() if k not in names}
            bad.update({
                k: v
                for k, v in spec.items()
                if k in names and not isinstance(v, bool)
            })
            if not bad:
                return cls(**spec)
        raise ValueError(
            f'{owner} fast_paths must be one of {sorted(PRESETS)}, a '
            f'FastPaths or a dict of bools with keys {names}; got {spec!r}')

    # -------------------------------------------------------------- layout
    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` in the memory layout the blocks run in."""
        return to_channels_last(x) if self.channels_last else x.contiguous()

    # ------------------------------------------------------------ residual
    def add(self, fresh: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
        """``fresh + other``, summed in place into ``fresh`` -- a tensor the
        calling block made itself, never its caller's input -- where
        ``in_place`` and autograd allow and the sum keeps ``fresh``'s shape
        and dtype."""
        if (self.in_place and _untracked(fresh)
                and fresh.shape == other.shape and torch.promote_types(
                    fresh.dtype, other.dtype) == fresh.dtype):
            return fresh.add_(other)
        return fresh + other

    # ------------------------------------------------------ depth-wise conv
    def depthwise(self, conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """``conv(x)`` for a depth-wise convolution of a block (the
        position embedding or the local relation aggregator): with
        ``depthwise_backward``, on the CPU, when autograd tracks it, by
        :class:`DepthwiseConv` (GPUs keep cuDNN's own kernels)."""
        if (self.depthwise_backward and x.device.type == 'cpu'
                and torch.is_grad_enabled()
                and (x.requires_grad or conv.weight.requires_grad)
                and _same_depthwise(conv)):
            return DepthwiseConv.apply(x, conv.weight, conv.bias)
        return conv(x)

    def norm_pointwise(self, norm: nn.Module, conv: nn.Module,
                       x: torch.Tensor) -> torch.Tensor:
        """``conv(norm(x))`` for a BatchNorm followed by a 1x1 convolution
        (the convolution blocks' norm1 -> conv1 and norm2 -> MLP fc1): with
        ``recompute_norm``, in training under autograd, by
        :class:`NormPointwise`, else as the modules compute it."""
        if not (self.recompute_norm and torch.is_grad_enabled()
                and _plain_batch_norm_then_1x1(norm, conv)):
            return conv(norm(x))
        # nn.BatchNorm's own momentum rule (None: a cumulative average)
        norm.num_batches_tracked.add_(1)
        momentum = (1.0 / float(norm.num_batches_tracked)
                    if norm.momentum is None else norm.momentum)
        return NormPointwise.apply(x, norm.weight, norm.bias,
                                   norm.running_mean, norm.running_var,
                                   conv.weight, conv.bias, momentum, norm.eps)

    # ----------------------------------------------------------------- MLP
    def gelu_fc2(self, h: torch.Tensor, act: nn.Module, fc2: nn.Module,
                 drop: nn.Dropout) -> Optional[torch.Tensor]:
        """``drop(fc2(drop(act(h))))`` of an MLP by a fast path, or None
        where none applies.

        With grads (``recompute_gelu``): :class:`GeluLinear`, on the tokens
        of a channels-last map for a 1x1-convolution ``fc2``. Without
        (``in_place``): the GELU in place in ``h``, ``fc1``'s own output.
        Both need the exact GELU and no active dropout.
        """
        if not _plain_gelu(act, drop):
            return None
        tracked = torch.is_grad_enabled() and h.requires_grad
        if (self.recompute_gelu and tracked and act.approximate == 'none'):
            if isinstance(fc2, nn.Linear):
                return GeluLinear.apply(h, fc2.weight, fc2.bias)
            tokens = h.movedim(1, -1)
            if tokens.is_contiguous():  # channels-last: a free view
                out = GeluLinear.apply(tokens, fc2.weight.flatten(1), fc2.bias)
                return out.movedim(-1, 1)
        if self.in_place and not tracked:
            return fc2(torch.ops.aten.gelu_(h, approximate=act.approximate))
        return None

    # ----------------------------------------------------------- attention
    def attention(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        scale: float,
        dropout_p: float,
        first_token_scores: bool = False
    ) -> Optional[Tuple[torch.Tensor, Optional[torch.Tensor]]]:
        """``(softmax(q k^T * scale) v, scores)`` by :func:`attention`, or
        None without ``fused_attn``.

        ``scores`` (with ``first_token_scores``, else None) is the first
        query's row of the attention map without its first key, (B, heads,
        tokens - 1) float32: the fused kernels never hold the map, so that
        one row is computed on its own (cheap).
        """
        if not self.fused_attn:
            return None
        out = attention(q, k, v, scale, dropout_p)
        scores = None
        if first_token_scores:
            # float32 as the official fp32 video models
            row = (q[:, :, :1].float() @ k.float().transpose(-2, -1))
            scores = (row * scale).softmax(dim=-1)[:, :, 0, 1:]
        return out, scores

    def window_attention(self, attn: nn.Module, x: torch.Tensor,
                         window_size: int,
                         dropout_p: float) -> Optional[torch.Tensor]:
        """Window attention of ``attn`` (an :class:`~.blocks.Attention`) on
        a (B, H, W, C) map with H, W multiples of ``window_size``; None
        without ``fused_attn``. Same numbers as partition -> attention ->
        reverse.

        The qkv and output projections act per token, so they run on the
        map itself; the only copies are the one that gathers q, k, v per
        window and head for SDPA and the one that scatters its output back
        (the official code copies the map into windows, qkv into heads, the
        output out of heads and out of windows).
        """
        if not self.fused_attn:
            return None
        ws, heads, head_dim = window_size, attn.num_heads, attn.head_dim
        B, Hp, Wp, C = x.shape
        nh, nw = Hp // ws, Wp // ws
        qkv = attn.qkv(x).view(B, nh, ws, nw, ws, 3, heads, head_dim)
        # -> (3, B, nh, nw, heads, ws, ws, head_dim), one copy
        qkv = qkv.permute(5, 0, 1, 3, 6, 2, 4,
                          7).reshape(3, B * nh * nw, heads, ws * ws, head_dim)
        y = attention(qkv[0], qkv[1], qkv[2], attn.scale, dropout_p)
        # (B * windows, heads, ws * ws, head_dim) -> (B, Hp, Wp, C), one copy
        y = y.view(B, nh, nw, heads, ws, ws, head_dim)
        y = y.permute(0, 1, 4, 2, 5, 3, 6).reshape(B, Hp, Wp, C)
        return attn.proj_drop(attn.proj(y))


# What a ``fast_paths`` argument takes: see :meth:`FastPaths.build`.
FastPathsSpec = Union[str, Mapping, FastPaths]

PRESETS = {
    'fast': FastPaths(),
    'reference': FastPaths(False, False, False, False, False, False),
}


def replace_fast_paths(model: nn.Module, **flags) -> int:
    """Set ``flags`` (e.g. ``fused_attn=False``) in the :class:`FastPaths`
    of every module of ``model`` that has one; returns how many."""
    count = 0
    for module in model.modules():
        if isinstance(vars(module).get('fast_paths'), FastPaths):
            module.fast_paths = dataclasses.replace(module.fast_paths, **flags)
            count += 1
    return count
