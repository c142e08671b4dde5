"""Building blocks shared by every UniFormer backbone (2D image and 3D video).

Each block takes ``ndim`` (2 or 3) and builds the matching convolutions and
BatchNorm, so the image and the video backbones run the same code. Attribute
names follow the official implementation (``pos_embed``, ``norm1``, ``attn``,
``mlp.fc1`` ...), which is what lets the official checkpoints load unchanged.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ops import cpu_bf16_native

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_BATCH_NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}

# The official models use LayerNorm(eps=1e-6) inside blocks and for the
# per-stage output norms, but PyTorch's default eps=1e-5 in the patch embeds.
BLOCK_NORM_EPS = 1e-6
EMBED_NORM_EPS = 1e-5


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` in channels-last memory (NHWC / NTHWC) with its NCHW shape.

    The blocks alternate convolutions with per-token LayerNorm / attention /
    MLP; in this layout the moves between the two are free views, and
    oneDNN / cuDNN convolutions run without layout reorders.
    """
    fmt = torch.channels_last if x.dim() == 4 else torch.channels_last_3d
    return x.contiguous(memory_format=fmt)


def conv_nd(ndim: int, *args, **kwargs) -> nn.Module:
    """``nn.Conv2d`` or ``nn.Conv3d`` by ``ndim``."""
    return _CONV[ndim](*args, **kwargs)


def batch_norm_nd(ndim: int, num_features: int) -> nn.Module:
    """``nn.BatchNorm2d`` or ``nn.BatchNorm3d`` by ``ndim``."""
    return _BATCH_NORM[ndim](num_features)


def _cube(ndim: int, size: int) -> Tuple[int, ...]:
    return (size, ) * ndim


def _layer_scales(init_value: Optional[float], shape: tuple):
    """``gamma_1``, ``gamma_2`` residual scales, or (None, None)."""
    if init_value is None:
        return None, None
    return tuple(
        nn.Parameter(torch.full(shape, float(init_value))) for _ in range(2))


def _scaled(gamma: Optional[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    return x if gamma is None else gamma * x


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a residual branch for whole
    samples with probability ``drop_prob`` and scale the kept ones by
    ``1 / (1 - drop_prob)``; the identity in eval mode.

    One ``torch.rand`` draw of one number per sample, in the input's dtype
    and device, as MMCV's and timm's ``DropPath``: with the same seed the
    same samples are dropped and the outputs are bit-identical.

    Args:
        drop_prob (float): Probability of dropping a sample's branch.
            Defaults to 0.1.
    """

    def __init__(self, drop_prob: float = 0.1):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_prob == 0.:
            return x
        keep_prob = 1. - self.drop_prob
        # floor(keep_prob + U[0, 1)) is 1 with probability keep_prob
        keep = (keep_prob + torch.rand(
            (x.shape[0], ) + (1, ) * (x.dim() - 1),
            dtype=x.dtype,
            device=x.device)).floor()
        return x.div(keep_prob) * keep

    def extra_repr(self) -> str:
        return f'drop_prob={self.drop_prob}'


def _exporting() -> bool:
    """Whether the module is being traced for ONNX or ``torch.export``."""
    return torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting()


def _untracked(t: torch.Tensor) -> bool:
    """Whether autograd ignores ``t``, so a block may update its own fresh
    output ``t`` in place (inference: fewer and smaller allocations; on the
    CPU each new large tensor pays a page fault per 4 KiB)."""
    return not (torch.is_grad_enabled() and t.requires_grad)


def _residual(block: nn.Module, own: torch.Tensor,
              other: torch.Tensor) -> torch.Tensor:
    """``own + other``, summed in place into ``own`` -- a tensor the block
    made itself, never the caller's input -- where ``block.in_place`` and
    autograd allow and the sum keeps ``own``'s shape and dtype."""
    if (block.in_place and _untracked(own) and own.shape == other.shape
            and torch.promote_types(own.dtype, other.dtype) == own.dtype):
        return own.add_(other)
    return own + other


class _GeluLinear(torch.autograd.Function):
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


def _recomputes_gelu(mlp: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``mlp`` may use :class:`_GeluLinear`: training with grads,
    no dropout between the GELU and ``fc2``, plain GELU."""
    return (mlp.recompute_gelu and torch.is_grad_enabled() and x.requires_grad
            and type(mlp.act) is nn.GELU and mlp.act.approximate == 'none'
            and (mlp.drop.p == 0 or not mlp.training))


class InPlaceInference(nn.Module):
    """A block that, without autograd, updates the tensors it made itself in
    place (residual sums, the MLP's GELU) instead of allocating new ones;
    ``in_place = False`` (the backbones' ``in_place`` argument) turns it
    off."""
    in_place = True


def _gelu_in_place(mlp: nn.Module, h: torch.Tensor) -> bool:
    """Whether ``mlp`` may apply its GELU to ``h`` (``fc1``'s output) in
    place: untracked by autograd, plain GELU, dropout inactive."""
    return (mlp.in_place and _untracked(h) and type(mlp.act) is nn.GELU
            and (mlp.drop.p == 0 or not mlp.training))


class Mlp(InPlaceInference):
    """Token MLP (Linear-GELU-Linear) of the attention blocks.

    Args:
        dim (int): Input and output channels.
        hidden_dim (int): Hidden channels.
        drop_rate (float): Dropout after each linear layer. Defaults to 0.
        recompute_gelu (bool): In training, keep only the hidden
            pre-activation for the backward pass and recompute the GELU
            there (same numbers, less memory). Defaults to True.
    """

    def __init__(self,
                 dim: int,
                 hidden_dim: int,
                 drop_rate: float = 0.,
                 recompute_gelu: bool = True):
        super().__init__()
        self.fc1 = self._layer(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = self._layer(hidden_dim, dim)
        self.drop = nn.Dropout(drop_rate)
        self.recompute_gelu = recompute_gelu

    def _layer(self, in_dim: int, out_dim: int) -> nn.Module:
        """``fc1`` / ``fc2``; subclasses change the layer type here."""
        return nn.Linear(in_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        if _recomputes_gelu(self, h):
            # the dropout is off here (checked), so none around the GELU
            return _GeluLinear.apply(h, self.fc2.weight, self.fc2.bias)
        return self._fc2_of_act(h)

    def _fc2_of_act(self, h: torch.Tensor) -> torch.Tensor:
        """``drop(fc2(drop(act(h))))``, the GELU in place where it may be."""
        if _gelu_in_place(self, h):
            return self.fc2(
                torch.ops.aten.gelu_(h, approximate=self.act.approximate))
        return self.drop(self.fc2(self.drop(self.act(h))))


class ConvMlp(Mlp):
    """Point-wise convolution MLP of the convolution blocks.

    The 1x1 convolutions of a channels-last map run as linear layers over
    its channels (a view, same weights); other layouts use the
    convolutions as they are.

    Args:
        dim (int): Input and output channels.
        hidden_dim (int): Hidden channels.
        drop_rate (float): Dropout after each layer. Defaults to 0.
        ndim (int): 2 for images, 3 for videos. Defaults to 2.
        recompute_gelu (bool): See :class:`Mlp`. Defaults to True.
    """

    def __init__(self,
                 dim: int,
                 hidden_dim: int,
                 drop_rate: float = 0.,
                 ndim: int = 2,
                 recompute_gelu: bool = True):
        self.ndim = ndim
        super().__init__(dim, hidden_dim, drop_rate, recompute_gelu)

    def _layer(self, in_dim: int, out_dim: int) -> nn.Module:
        return conv_nd(self.ndim, in_dim, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc1(x)
        if _recomputes_gelu(self, h):
            tokens = h.movedim(1, -1)
            if tokens.is_contiguous():  # channels-last: a free view
                y = _GeluLinear.apply(tokens, self.fc2.weight.flatten(1),
                                      self.fc2.bias)
                return y.movedim(-1, 1)
        return self._fc2_of_act(h)


class ConvBlock(InPlaceInference):
    """Local MHRA block (the official ``CBlock``) of stages 1 and 2.

    Dynamic position embedding (depth-wise 3x3[x3] conv), then a BatchNorm,
    1x1 conv, depth-wise 5x5[x5] "local relation aggregator", 1x1 conv, then a
    convolution MLP.

    Args:
        dim (int): Channels.
        mlp_ratio (float): Hidden/input channels of the MLP. Defaults to 4.
        drop_rate (float): Dropout after the MLP layers. Defaults to 0.
        drop_path_rate (float): Stochastic depth. Defaults to 0.
        layer_scale_init_value (float, optional): Initial value of the
            per-channel residual scales ``gamma_1`` / ``gamma_2`` (shaped
            (1, C, 1, 1[, 1]) as in the official token-labeling models);
            None disables layer scale. Defaults to None.
        ndim (int): 2 for images, 3 for videos. Defaults to 2.
    """

    def __init__(self,
                 dim: int,
                 mlp_ratio: float = 4.,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: Optional[float] = None,
                 ndim: int = 2):
        super().__init__()
        self.pos_embed = conv_nd(
            ndim, dim, dim, _cube(ndim, 3), padding=_cube(ndim, 1), groups=dim)
        self.norm1 = batch_norm_nd(ndim, dim)
        self.conv1 = conv_nd(ndim, dim, dim, 1)
        self.attn = conv_nd(
            ndim, dim, dim, _cube(ndim, 5), padding=_cube(ndim, 2), groups=dim)
        self.conv2 = conv_nd(ndim, dim, dim, 1)
        self.drop_path = DropPath(
            drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.norm2 = batch_norm_nd(ndim, dim)
        self.mlp = ConvMlp(dim, int(dim * mlp_ratio), drop_rate, ndim)
        self.gamma_1, self.gamma_2 = _layer_scales(layer_scale_init_value,
                                                   (1, dim) + (1, ) * ndim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _residual(self, self.pos_embed(x), x)
        y = self.conv2(self.attn(self.conv1(self.norm1(x))))
        x = _residual(self, x, self.drop_path(_scaled(self.gamma_1, y)))
        y = self.mlp(self.norm2(x))
        return _residual(self, x, self.drop_path(_scaled(self.gamma_2, y)))


# Score elements (query rows x keys) one step of the bf16 CPU attention
# materialises: 4 MiB of bf16 stays in this CPU's caches and keeps the two
# matrix products large enough for oneDNN (tuned on 3800-token global, 196-
# token window and 950-token stage-4 attention).
_SCORE_BLOCK = 2**21


def _cpu_bf16_inference(q: torch.Tensor, dropout_p: float) -> bool:
    """Whether :func:`attention` takes the blocked bf16 path: only where
    the CPU computes bf16 natively (emulated, its products are slower than
    the fused kernel's)."""
    return (q.device.type == 'cpu' and q.dtype == torch.bfloat16
            and dropout_p == 0. and _untracked(q) and cpu_bf16_native())


def _blocked_attention(q: torch.Tensor,
                       k: torch.Tensor,
                       v: torch.Tensor,
                       scale: float,
                       score_block: int = _SCORE_BLOCK) -> torch.Tensor:
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
    :func:`_blocked_attention` (1.3-1.9x faster there).
    """
    if _cpu_bf16_inference(q, dropout_p):
        return _blocked_attention(q, k, v, scale)
    return F.scaled_dot_product_attention(
        q, k, v, dropout_p=dropout_p, scale=scale)


class Attention(nn.Module):
    """Multi-head self-attention over a token sequence.

    Args:
        dim (int): Channels.
        num_heads (int): Heads.
        qkv_bias (bool): Bias in the qkv projection. Defaults to True.
        attn_drop_rate (float): Dropout on the attention map. Defaults to 0.
        proj_drop_rate (float): Dropout after the projection. Defaults to 0.
        fused (bool): Use ``F.scaled_dot_product_attention`` (flash / memory
            efficient kernels, no materialised attention map in memory;
            blocked bf16 products for bf16 inference on a CPU with native
            bf16, see :func:`attention`) when True; the explicit
            ``softmax(q @ k^T * scale) @ v`` of the official code when False.
            Both give the same numbers.
            Defaults to True.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 qkv_bias: bool = True,
                 attn_drop_rate: float = 0.,
                 proj_drop_rate: float = 0.,
                 fused: bool = True):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused = fused
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop_rate = attn_drop_rate
        self.attn_drop = nn.Dropout(attn_drop_rate)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop_rate)

    def forward(self, x: torch.Tensor, first_token_scores: bool = False):
        """x: (batch, tokens, dim) -> (batch, tokens, dim).

        With ``first_token_scores`` it returns ``(out, scores)``: ``scores``
        (batch, tokens - 1), float32, is the first token's attention to each
        other token, averaged over heads (how the hourglass models rank
        tokens). The fused path computes only that one row of the map, so
        SDPA still does the attention itself.
        """
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        scores = None
        if self.fused:
            x = attention(q, k, v, self.scale,
                          self.attn_drop_rate if self.training else 0.)
            if first_token_scores:
                # float32 as the official fp32 video models; one row is cheap
                row = (q[:, :, :1].float() @ k.float().transpose(-2, -1))
                scores = (row * self.scale).softmax(dim=-1)[:, :, 0, 1:]
        else:
            attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
            if first_token_scores:
                scores = attn[:, :, 0, 1:].float()
            x = self.attn_drop(attn) @ v
        x = x.transpose(1, 2).reshape(B, N, C)
        x = self.proj_drop(self.proj(x))
        if first_token_scores:
            return x, scores.mean(dim=1)
        return x


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """(B, H, W, C) with H, W multiples of ``window_size`` ->
    (B * windows, window_size**2, C)."""
    B, H, W, C = x.shape
    x = x.view(B, H // window_size, window_size, W // window_size, window_size,
               C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window_size * window_size,
                                               C)


def window_reverse(windows: torch.Tensor, window_size: int, B: int, H: int,
                   W: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`."""
    x = windows.view(B, H // window_size, W // window_size, window_size,
                     window_size, -1)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(B, H, W, -1)


def _crop(x: torch.Tensor, H: int, W: int) -> torch.Tensor:
    """``x[:, :H, :W]``; exporting, a gather of H rows and W columns: its
    size is H x W by construction, while torch.export cannot prove that a
    slice of a padded symbolic size keeps H (it guards on the export
    size's padding)."""
    if not _exporting():
        return x[:, :H, :W]
    rows = torch.arange(H, device=x.device)
    cols = torch.arange(W, device=x.device)
    return x.index_select(1, rows).index_select(2, cols)


class AttentionBlock(InPlaceInference):
    """Global MHRA block (the official ``SABlock`` / ``SABlock_Windows``).

    Dynamic position embedding, then a transformer block (pre-norm attention
    and MLP) over all tokens of the feature map, or over non-overlapping
    windows when ``window_size`` is given. Windows pad the normalised tokens
    with zeros at the bottom/right, and the padding takes part in attention
    (no mask), exactly as the official code, so official weights reproduce
    its numbers on any input size.

    Args:
        dim (int): Channels.
        num_heads (int): Attention heads.
        mlp_ratio (float): Hidden/input channels of the MLP. Defaults to 4.
        qkv_bias (bool): Bias in the qkv projection. Defaults to True.
        drop_rate (float): Dropout after attention and MLP. Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth. Defaults to 0.
        layer_scale_init_value (float, optional): Initial value of the
            per-channel residual scales ``gamma_1`` / ``gamma_2``; None
            disables layer scale. Defaults to None.
        window_size (int, optional): Side of the attention windows (2D only);
            None for global attention. Defaults to None.
        fused_attn (bool): See :class:`Attention`. Defaults to True.
        ndim (int): 2 for images, 3 for videos. Defaults to 2.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: Optional[float] = None,
                 window_size: Optional[int] = None,
                 fused_attn: bool = True,
                 ndim: int = 2):
        super().__init__()
        if window_size is not None and ndim != 2:
            raise ValueError('window attention is only defined for 2D '
                             f'inputs, got ndim={ndim}')
        self.window_size = window_size
        self.pos_embed = conv_nd(
            ndim, dim, dim, _cube(ndim, 3), padding=_cube(ndim, 1), groups=dim)
        self.norm1 = nn.LayerNorm(dim, eps=BLOCK_NORM_EPS)
        self.attn = Attention(dim, num_heads, qkv_bias, attn_drop_rate,
                              drop_rate, fused_attn)
        self.drop_path = DropPath(
            drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=BLOCK_NORM_EPS)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop_rate)
        self.gamma_1, self.gamma_2 = _layer_scales(layer_scale_init_value,
                                                   (dim, ))

    def _windowed_attention(self, x: torch.Tensor,
                            spatial: Sequence[int]) -> torch.Tensor:
        B, _, C = x.shape
        H, W = spatial
        ws = self.window_size
        x = x.view(B, H, W, C)
        pad_b, pad_r = (-H) % ws, (-W) % ws
        # an exported graph pads and crops at every size: a branch on the
        # padding would bake the export size's choice into the graph
        padded = _exporting() or pad_b or pad_r
        if padded:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        Hp, Wp = H + pad_b, W + pad_r
        if self.attn.fused:
            x = self._fused_window_attention(x)
        else:  # the official computation: partition, attend, reverse
            x = self.attn(window_partition(x, ws))
            x = window_reverse(x, ws, B, Hp, Wp)
        if padded:
            x = _crop(x, H, W)
        return x.reshape(B, H * W, C)

    def _fused_window_attention(self, x: torch.Tensor) -> torch.Tensor:
        """Window attention on a (B, H, W, C) map with H, W multiples of the
        window size, same numbers as partition -> attention -> reverse.

        The qkv and output projections act per token, so they run on the
        map itself; the only copies are the one that gathers q, k, v per
        window and head for SDPA and the one that scatters its output back
        (the official code copies the map into windows, qkv into heads, the
        output out of heads and out of windows).
        """
        attn, ws = self.attn, self.window_size
        B, Hp, Wp, C = x.shape
        nh, nw, heads = Hp // ws, Wp // ws, attn.num_heads
        qkv = attn.qkv(x).view(B, nh, ws, nw, ws, 3, heads, attn.head_dim)
        # -> (3, B, nh, nw, heads, ws, ws, head_dim), one copy
        qkv = qkv.permute(5, 0, 1, 3, 6, 2, 4,
                          7).reshape(3, B * nh * nw, heads, ws * ws,
                                     attn.head_dim)
        y = attention(qkv[0], qkv[1], qkv[2], attn.scale,
                      attn.attn_drop_rate if self.training else 0.)
        # (B * windows, heads, ws * ws, head_dim) -> (B, Hp, Wp, C), one copy
        y = y.view(B, nh, nw, heads, ws, ws, attn.head_dim)
        y = y.permute(0, 1, 4, 2, 5, 3, 6).reshape(B, Hp, Wp, C)
        return attn.proj_drop(attn.proj(y))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _residual(self, self.pos_embed(x), x)
        B, C, *spatial = x.shape
        # Same token order as the official flatten(2).transpose(1, 2); on a
        # channels-last input (the backbones convert theirs) both moves
        # between the map and the tokens are views, not copies.
        tokens = x.movedim(1, -1).reshape(B, -1, C)
        y = self.norm1(tokens)
        if self.window_size is None:
            y = self.attn(y)
        else:
            y = self._windowed_attention(y, spatial)
        # tokens: a view of the block's own x, or a copy of it
        tokens = _residual(self, tokens,
                           self.drop_path(_scaled(self.gamma_1, y)))
        y = self.mlp(self.norm2(tokens))
        tokens = _residual(self, tokens,
                           self.drop_path(_scaled(self.gamma_2, y)))
        x_out = tokens.view(B, *spatial, C).movedim(-1, 1)
        # keep the caller's layout: a contiguous (NCHW) map stays one, as in
        # the official code; a channels-last one gets a free view
        return x_out.contiguous() if x.is_contiguous() else x_out


class PatchEmbed(nn.Module):
    """Strided convolution + LayerNorm over channels (down-sampling).

    Args:
        in_channels (int): Input channels.
        embed_dim (int): Output channels.
        kernel_size (int | tuple): Convolution kernel.
        stride (int | tuple): Convolution stride. Defaults to ``kernel_size``.
        padding (int | tuple): Convolution padding. Defaults to 0.
        ndim (int): 2 for images, 3 for videos. Defaults to 2.
    """

    def __init__(self,
                 in_channels: int,
                 embed_dim: int,
                 kernel_size,
                 stride=None,
                 padding=0,
                 ndim: int = 2):
        super().__init__()
        self.proj = conv_nd(
            ndim,
            in_channels,
            embed_dim,
            kernel_size,
            stride=kernel_size if stride is None else stride,
            padding=padding)
        self.norm = nn.LayerNorm(embed_dim, eps=EMBED_NORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


class ConvStem(nn.Module):
    """Overlapping convolutional down-sampling of the S-dagger models.

    ``num_convs`` 3x3, stride-2 convolutions, each followed by BatchNorm and
    separated by GELU: two halve-then-full-width convolutions for the 4x stem
    of stage 1, one for the 2x down-sampling of later stages. Submodule
    indices match the official ``nn.Sequential`` (``proj.0``, ``proj.1``,
    ``proj.3``, ``proj.4``).

    Args:
        in_channels (int): Input channels.
        embed_dim (int): Output channels.
        num_convs (int): 2 for the stem, 1 between stages.
        ndim (int): 2 for images, 3 for videos. Defaults to 2.
        strides (Sequence, optional): Stride of each convolution (an int or
            a tuple per convolution), e.g. ``[(1, 2, 2), 2]`` for the
            hourglass video stem that halves time once. Defaults to None:
            2 along every axis.
    """

    def __init__(self,
                 in_channels: int,
                 embed_dim: int,
                 num_convs: int,
                 ndim: int = 2,
                 strides: Optional[Sequence] = None):
        super().__init__()
        widths = [embed_dim // 2, embed_dim] if num_convs == 2 else [embed_dim]
        if strides is None:
            strides = [2] * len(widths)
        if len(strides) != len(widths):
            raise ValueError(f'ConvStem with num_convs={num_convs} needs '
                             f'{len(widths)} strides, got {strides!r}')
        layers = []
        for i, (width, stride) in enumerate(zip(widths, strides)):
            if i:
                layers.append(nn.GELU())
            layers += [
                conv_nd(
                    ndim,
                    in_channels,
                    width,
                    _cube(ndim, 3),
                    stride=(_cube(ndim, stride)
                            if isinstance(stride, int) else tuple(stride)),
                    padding=_cube(ndim, 1)),
                batch_norm_nd(ndim, width)
            ]
            in_channels = width
        self.proj = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)
