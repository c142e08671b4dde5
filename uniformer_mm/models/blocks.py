"""Building blocks shared by every UniFormer backbone (2D image and 3D video).

Each block takes ``ndim`` (2 or 3) and builds the matching convolutions and
BatchNorm, so the image and the video backbones run the same code. Attribute
names follow the official implementation (``pos_embed``, ``norm1``, ``attn``,
``mlp.fc1`` ...), which is what lets the official checkpoints load unchanged.

The blocks are written as the paper's computation. Where a faster
implementation of a step exists (fused and windowed attention, the MLP's
GELU, residual sums), the block makes one call into its
:class:`~.ops.FastPaths` (``self.fast_paths``, passed in by keyword), which
runs the fast version -- same numbers -- or returns None and leaves the step
to the code here; all of them live in :mod:`.ops`.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ops import FastPaths, FastPathsSpec

_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_BATCH_NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}

# The official models use LayerNorm(eps=1e-6) inside blocks and for the
# per-stage output norms, but PyTorch's default eps=1e-5 in the patch embeds.
BLOCK_NORM_EPS = 1e-6
EMBED_NORM_EPS = 1e-5


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
    """``gamma * x`` with layer scale, else ``x``."""
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


def _drop_path(rate: float) -> nn.Module:
    return DropPath(rate) if rate > 0 else nn.Identity()


def _exporting() -> bool:
    """Whether the module is being traced for ONNX or ``torch.export``."""
    return torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting()


class Mlp(nn.Module):
    """Token MLP (Linear-GELU-Linear) of the attention blocks.

    Args:
        dim (int): Input and output channels.
        hidden_dim (int): Hidden channels.
        drop_rate (float): Dropout after each linear layer. Defaults to 0.
        fast_paths (str | dict | FastPaths): See :class:`~.ops.FastPaths`
            (``recompute_gelu``, ``in_place``). Defaults to ``'fast'``.
    """

    def __init__(self,
                 dim: int,
                 hidden_dim: int,
                 drop_rate: float = 0.,
                 fast_paths: FastPathsSpec = 'fast'):
        super().__init__()
        self.fast_paths = FastPaths.build(fast_paths, type(self).__name__)
        self.fc1 = self._layer(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = self._layer(hidden_dim, dim)
        self.drop = nn.Dropout(drop_rate)

    def _layer(self, in_dim: int, out_dim: int) -> nn.Module:
        """``fc1`` / ``fc2``; subclasses change the layer type here."""
        return nn.Linear(in_dim, out_dim)

    def forward(self,
                x: torch.Tensor,
                norm: Optional[nn.Module] = None) -> torch.Tensor:
        """``mlp(x)``, or ``mlp(norm(x))`` with the norm that precedes it
        (for :meth:`~.ops.FastPaths.norm_pointwise`)."""
        if norm is None:
            h = self.fc1(x)
        else:
            h = self.fast_paths.norm_pointwise(norm, self.fc1, x)
        out = self.fast_paths.gelu_fc2(h, self.act, self.fc2, self.drop)
        if out is None:
            out = self.drop(self.fc2(self.drop(self.act(h))))
        return out


class ConvMlp(Mlp):
    """Point-wise convolution MLP of the convolution blocks.

    Args:
        dim (int): Input and output channels.
        hidden_dim (int): Hidden channels.
        drop_rate (float): Dropout after each layer. Defaults to 0.
        ndim (int): 2 for images, 3 for videos. Defaults to 2.
        fast_paths (str | dict | FastPaths): See :class:`Mlp`.
            Defaults to ``'fast'``.
    """

    def __init__(self,
                 dim: int,
                 hidden_dim: int,
                 drop_rate: float = 0.,
                 ndim: int = 2,
                 fast_paths: FastPathsSpec = 'fast'):
        self.ndim = ndim
        super().__init__(
            dim, hidden_dim, drop_rate=drop_rate, fast_paths=fast_paths)

    def _layer(self, in_dim: int, out_dim: int) -> nn.Module:
        return conv_nd(self.ndim, in_dim, out_dim, 1)


class ConvBlock(nn.Module):
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
        fast_paths (str | dict | FastPaths): See :class:`~.ops.FastPaths`.
            Defaults to ``'fast'``.
    """

    def __init__(self,
                 dim: int,
                 *,
                 mlp_ratio: float = 4.,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: Optional[float] = None,
                 ndim: int = 2,
                 fast_paths: FastPathsSpec = 'fast'):
        super().__init__()
        self.fast_paths = FastPaths.build(fast_paths, 'ConvBlock')
        self.pos_embed = conv_nd(
            ndim, dim, dim, _cube(ndim, 3), padding=_cube(ndim, 1), groups=dim)
        self.norm1 = batch_norm_nd(ndim, dim)
        self.conv1 = conv_nd(ndim, dim, dim, 1)
        self.attn = conv_nd(
            ndim, dim, dim, _cube(ndim, 5), padding=_cube(ndim, 2), groups=dim)
        self.conv2 = conv_nd(ndim, dim, dim, 1)
        self.drop_path = _drop_path(drop_path_rate)
        self.norm2 = batch_norm_nd(ndim, dim)
        self.mlp = ConvMlp(
            dim,
            int(dim * mlp_ratio),
            drop_rate=drop_rate,
            ndim=ndim,
            fast_paths=self.fast_paths)
        self.gamma_1, self.gamma_2 = _layer_scales(layer_scale_init_value,
                                                   (1, dim) + (1, ) * ndim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # add(a, b) is a + b, in place into a where the fast paths allow:
        # a is always a tensor made here, never the caller's x
        add = self.fast_paths.add
        depthwise = self.fast_paths.depthwise
        norm_pointwise = self.fast_paths.norm_pointwise
        x = add(depthwise(self.pos_embed, x), x)
        y = norm_pointwise(self.norm1, self.conv1, x)
        y = self.conv2(depthwise(self.attn, y))
        x = add(x, self.drop_path(_scaled(self.gamma_1, y)))
        y = self.mlp(x, norm=self.norm2)
        return add(x, self.drop_path(_scaled(self.gamma_2, y)))


class Attention(nn.Module):
    """Multi-head self-attention over a token sequence.

    Args:
        dim (int): Channels.
        num_heads (int): Heads.
        qkv_bias (bool): Bias in the qkv projection. Defaults to True.
        attn_drop_rate (float): Dropout on the attention map. Defaults to 0.
        proj_drop_rate (float): Dropout after the output projection.
            Defaults to 0.
        fast_paths (str | dict | FastPaths): With ``fused_attn``, fused
            attention kernels (see :meth:`~.ops.FastPaths.attention`);
            without, the explicit ``softmax(q @ k^T * scale) @ v`` of the
            official code. Same numbers. Defaults to ``'fast'``.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 *,
                 qkv_bias: bool = True,
                 attn_drop_rate: float = 0.,
                 proj_drop_rate: float = 0.,
                 fast_paths: FastPathsSpec = 'fast'):
        super().__init__()
        self.fast_paths = FastPaths.build(fast_paths, 'Attention')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop_rate)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop_rate)

    @property
    def dropout_p(self) -> float:
        """The attention-map dropout now (0 in eval mode)."""
        return self.attn_drop.p if self.training else 0.

    def forward(self, x: torch.Tensor, first_token_scores: bool = False):
        """x: (batch, tokens, dim) -> (batch, tokens, dim).

        With ``first_token_scores`` it returns ``(out, scores)``: ``scores``
        (batch, tokens - 1), float32, is the first token's attention to each
        other token, averaged over heads (how the hourglass models rank
        tokens).
        """
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        fused = self.fast_paths.attention(q, k, v, self.scale, self.dropout_p,
                                          first_token_scores)
        if fused is not None:
            x, scores = fused
        else:
            attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
            scores = attn[:, :, 0, 1:].float() if first_token_scores else None
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


class AttentionBlock(nn.Module):
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
        ndim (int): 2 for images, 3 for videos. Defaults to 2.
        fast_paths (str | dict | FastPaths): See :class:`~.ops.FastPaths`.
            Defaults to ``'fast'``.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 *,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 layer_scale_init_value: Optional[float] = None,
                 window_size: Optional[int] = None,
                 ndim: int = 2,
                 fast_paths: FastPathsSpec = 'fast'):
        super().__init__()
        if window_size is not None and ndim != 2:
            raise ValueError('window attention is only defined for 2D '
                             f'inputs, got ndim={ndim}; pass '
                             'window_size=None for video blocks')
        self.fast_paths = FastPaths.build(fast_paths, 'AttentionBlock')
        self.window_size = window_size
        self.pos_embed = conv_nd(
            ndim, dim, dim, _cube(ndim, 3), padding=_cube(ndim, 1), groups=dim)
        self.norm1 = nn.LayerNorm(dim, eps=BLOCK_NORM_EPS)
        self.attn = Attention(
            dim,
            num_heads,
            qkv_bias=qkv_bias,
            attn_drop_rate=attn_drop_rate,
            proj_drop_rate=drop_rate,
            fast_paths=self.fast_paths)
        self.drop_path = _drop_path(drop_path_rate)
        self.norm2 = nn.LayerNorm(dim, eps=BLOCK_NORM_EPS)
        self.mlp = Mlp(
            dim,
            int(dim * mlp_ratio),
            drop_rate=drop_rate,
            fast_paths=self.fast_paths)
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
        y = self.fast_paths.window_attention(self.attn, x, ws,
                                             self.attn.dropout_p)
        if y is None:  # the official computation: partition, attend, reverse
            y = self.attn(window_partition(x, ws))
            y = window_reverse(y, ws, B, Hp, Wp)
        if padded:
            y = _crop(y, H, W)
        return y.reshape(B, H * W, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # add(a, b) is a + b, in place into a where the fast paths allow:
        # a is always a tensor made here, never the caller's x
        add = self.fast_paths.add
        x = add(self.fast_paths.depthwise(self.pos_embed, x), x)
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
        tokens = add(tokens, self.drop_path(_scaled(self.gamma_1, y)))
        y = self.mlp(self.norm2(tokens))
        tokens = add(tokens, self.drop_path(_scaled(self.gamma_2, y)))
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
