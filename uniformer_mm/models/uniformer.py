"""UniFormer backbones: 2D (images, dense prediction) and 3D (video).

Li et al., "UniFormer: Unifying Convolution and Self-attention for Visual
Recognition" (TPAMI 2023) and "UniFormer: Unified Transformer for Efficient
Spatiotemporal Representation Learning" (ICLR 2022).

Stages 1-2 are convolution blocks (local MHRA), stages 3-4 attention blocks
(global MHRA); both backbones share the block code in :mod:`.blocks`, and the
parameter names of the official code so its checkpoints load unchanged.
"""
import contextlib
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmengine.registry import WEIGHT_INITIALIZERS
from torch.nn.modules.batchnorm import _BatchNorm

from .arch import ARCH_ZOO_2D, ARCH_ZOO_3D, resolve_arch
from .blocks import (BLOCK_NORM_EPS, AttentionBlock, ConvBlock, ConvStem,
                     PatchEmbed)
from .ops import FastPaths, FastPathsSpec

ATTN_MODES = ('global', 'window', 'hybrid')
INFLATE_MODES = ('average', 'center')
LAYER_SCALE_INIT = 1e-6  # the official init value of gamma_1 / gamma_2


def _checkpointed_blocks(with_cp: Union[bool, Sequence], depths: List[int],
                         owner: str) -> List[int]:
    """Number of leading blocks per stage that run under checkpointing."""
    if isinstance(with_cp, bool):
        return [d if with_cp else 0 for d in depths]
    if isinstance(with_cp, (list, tuple)) and len(with_cp) == 4:
        counts = []
        for flag, depth in zip(with_cp, depths):
            if isinstance(flag, bool):
                counts.append(depth if flag else 0)
            elif isinstance(flag, int) and flag >= 0:
                counts.append(min(flag, depth))
            else:
                break
        else:
            return counts
    raise ValueError(
        f'{owner} with_cp must be a bool or 4 entries (a bool per stage, or '
        'the number of leading blocks of each stage to checkpoint, as the '
        f'official checkpoint_num), got {with_cp!r}')


@contextlib.contextmanager
def _batch_norm_stats_kept(module: nn.Module):
    """Restore the BatchNorm statistics of ``module`` on exit."""
    saved = [(buffer, buffer.clone()) for m in module.modules()
             if isinstance(m, _BatchNorm) for buffer in m.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


def checkpointed(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``block(x)`` under gradient checkpointing. The backward pass runs the
    block again, BatchNorms in training mode included: their statistics are
    put back afterwards, or every checkpointed step would update them twice
    (twice the momentum of a plain run)."""
    return cp.checkpoint(
        block,
        x,
        use_reentrant=False,
        context_fn=lambda:
        (contextlib.nullcontext(), _batch_norm_stats_kept(block)))


class _UniFormerBase(BaseModule):
    """What every UniFormer backbone shares: arch handling, stages, the
    fast-path, layer-scale and inflation options, output norms,
    checkpointing, freezing, initialisation and the official-weight loader.

    Subclasses set ``ndim``, ``arch_zoo`` and implement
    :meth:`_make_patch_embed`. The arguments are documented on
    :class:`UniFormer` (and ``inflate_mode`` on :class:`UniFormer3D`).
    """
    ndim = 2
    arch_zoo = ARCH_ZOO_2D

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 qkv_bias: bool = True,
                 drop_rate: float = 0.,
                 attn_drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 with_cp: Union[bool, Sequence] = False,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 fast_paths: FastPathsSpec = 'fast',
                 layer_scale_init_value: float = LAYER_SCALE_INIT,
                 inflate_mode: Optional[str] = None,
                 debug: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        owner = type(self).__name__
        self.arch_settings = self._resolve_arch(arch, owner)
        self.depths = self.arch_settings['depths']
        self.embed_dims = self.arch_settings['embed_dims']
        self.head_dim = self.arch_settings['head_dim']
        self.num_stages = 4
        if not isinstance(in_channels, int) or in_channels <= 0:
            raise ValueError(f'{owner} in_channels must be a positive int, '
                             f'got {in_channels!r}')
        self.in_channels = in_channels
        self.out_indices = self._check_out_indices(out_indices, owner)
        if not (isinstance(frozen_stages, int) and -1 <= frozen_stages <= 4):
            raise ValueError(f'{owner} frozen_stages must be an int in '
                             f'[-1, 4], got {frozen_stages!r}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        # one object, shared by the backbone (layout) and every block
        self.fast_paths = FastPaths.build(fast_paths, owner)
        self.inflate_mode = self._check_inflate_mode(inflate_mode, owner)
        self.debug = debug
        self.cp_blocks = _checkpointed_blocks(with_cp, self.depths, owner)

        rates = torch.linspace(0, drop_path_rate, sum(self.depths)).tolist()
        self.pos_drop = nn.Dropout(drop_rate)
        in_dim = in_channels
        for i, (depth, dim) in enumerate(zip(self.depths, self.embed_dims)):
            self.add_module(f'patch_embed{i + 1}',
                            self._make_patch_embed(i, in_dim, dim))
            block_rates = rates[sum(self.depths[:i]):sum(self.depths[:i + 1])]
            common = dict(
                mlp_ratio=self.arch_settings['mlp_ratios'][i],
                drop_rate=drop_rate,
                layer_scale_init_value=(layer_scale_init_value
                                        if self.arch_settings['layer_scale'][i]
                                        else None),
                ndim=self.ndim,
                fast_paths=self.fast_paths)
            if i < 2:
                blocks = [
                    ConvBlock(dim, drop_path_rate=rate, **common)
                    for rate in block_rates
                ]
            else:
                windows = (
                    self._stage3_windows(depth) if i == 2 else [None] * depth)
                blocks = [
                    AttentionBlock(
                        dim,
                        dim // self.head_dim,
                        qkv_bias=qkv_bias,
                        attn_drop_rate=attn_drop_rate,
                        drop_path_rate=rate,
                        window_size=window,
                        **common)
                    for rate, window in zip(block_rates, windows)
                ]
            self.add_module(f'blocks{i + 1}', nn.ModuleList(blocks))
            in_dim = dim
        self._make_stage_extras()
        if self.ndim == 2:  # a LayerNorm per output (dense prediction)
            for i in self.out_indices:
                self.add_module(
                    f'norm{i + 1}',
                    nn.LayerNorm(self.embed_dims[i], eps=BLOCK_NORM_EPS))
        else:  # the final norm of the video models
            self.norm = nn.BatchNorm3d(self.embed_dims[-1])
        self._freeze_stages()

    def _resolve_arch(self, arch: Union[str, dict], owner: str) -> dict:
        """The validated arch settings (subclasses add their own keys)."""
        return resolve_arch(arch, self.arch_zoo, owner)

    def _make_stage_extras(self) -> None:
        """Add modules that run between the stages (before the output
        norms, so the state dict keeps the official order)."""

    def _check_inflate_mode(self, inflate_mode: Optional[str],
                            owner: str) -> str:
        if self.ndim == 2:
            if inflate_mode is not None:
                raise ValueError(
                    f'{owner} takes no inflate_mode: image models load 2D '
                    'kernels as they are; inflation of 2D kernels applies '
                    'to the video backbones (UniFormer3D, '
                    'UniFormerLight3D). Remove the argument.')
            return 'average'  # unused: no kernel is inflated
        if inflate_mode is None:
            return 'average'
        if inflate_mode not in INFLATE_MODES:
            raise ValueError(f'{owner} inflate_mode must be one of '
                             f'{INFLATE_MODES}, got {inflate_mode!r}')
        return inflate_mode

    @staticmethod
    def _check_out_indices(out_indices, owner) -> Tuple[int, ...]:
        if isinstance(out_indices, int):
            out_indices = (out_indices, )
        if (not isinstance(out_indices, (list, tuple)) or not out_indices
                or not all(
                    isinstance(i, int) and -4 <= i < 4 for i in out_indices)):
            raise ValueError(f'{owner} out_indices must be stage indices in '
                             f'[0, 3] (or -4..-1), got {out_indices!r}')
        return tuple(sorted({i % 4 for i in out_indices}))

    def _make_patch_embed(self, stage: int, in_dim: int,
                          dim: int) -> nn.Module:
        raise NotImplementedError

    def _stage3_windows(self, depth: int) -> List[Optional[int]]:
        """Window size of each stage-3 block (None: global attention)."""
        return [None] * depth

    # ------------------------------------------------------------------ input
    def _check_input(self, x: torch.Tensor) -> None:
        owner = type(self).__name__
        layout = '(N, C, H, W)' if self.ndim == 2 else '(N, C, T, H, W)'
        if not isinstance(x, torch.Tensor):
            raise TypeError(f'{owner} expects a tensor {layout}, got '
                            f'{type(x).__name__}')
        if x.dim() != self.ndim + 2:
            raise ValueError(f'{owner} expects a {self.ndim + 2}D tensor '
                             f'{layout}, got shape {tuple(x.shape)}')
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f'{owner} was built for in_channels={self.in_channels}, got '
                f'{x.shape[1]} channels (shape {tuple(x.shape)}); pass '
                f'in_channels={x.shape[1]} or fix the input layout {layout}.')
        size = list(x.shape[2:])
        for i in range(self.num_stages):
            size = self._downsampled(
                getattr(self, f'patch_embed{i + 1}'), size)
            if min(size) < 1:
                raise ValueError(
                    f'{owner} input {tuple(x.shape)} is too small: stage '
                    f'{i + 1} would have spatial size {size}. Each spatial '
                    'side must be at least the total stride (32 for the '
                    'patch-embedding stem).')
        if (self.debug or torch.is_anomaly_enabled()) and not bool(
                torch.isfinite(x).all()):
            raise ValueError(f'{owner} input contains NaN or inf values')

    @staticmethod
    def _downsampled(embed: nn.Module, size: List[int]) -> List[int]:
        for conv in embed.modules():
            if isinstance(conv, (nn.Conv2d, nn.Conv3d)):
                size = [(s + 2 * p - k) // st + 1 for s, p, k, st in zip(
                    size, conv.padding, conv.kernel_size, conv.stride)]
        return size

    # ---------------------------------------------------------------- forward
    def _run_stage(self, i: int, x: torch.Tensor) -> torch.Tensor:
        x = getattr(self, f'patch_embed{i + 1}')(x)
        if i == 0:
            x = self.pos_drop(x)
        for j, block in enumerate(getattr(self, f'blocks{i + 1}')):
            if j < self.cp_blocks[i] and torch.is_grad_enabled():
                x = checkpointed(block, x)
            else:
                x = block(x)
        return x

    def forward(self, x: torch.Tensor):
        """Run the four stages; the outputs as the subclass says."""
        self._check_input(x)
        x = self.fast_paths.layout(x)
        outs = []
        for i in range(self.num_stages):
            x = self._run_stage(i, x)
            self._collect_output(i, x, outs)
        return self._outputs(outs)

    def _collect_output(self, i: int, x: torch.Tensor,
                        outs: List[torch.Tensor]) -> None:
        """Append stage ``i``'s output to ``outs`` if it is one: after its
        LayerNorm (2D), or, for the last stage, after the final norm (3D,
        the official ``forward_features``); contiguous either way."""
        if self.ndim == 3 and i == self.num_stages - 1:
            x = self.norm(x)
        if i not in self.out_indices:
            return
        if self.ndim == 2:
            norm = getattr(self, f'norm{i + 1}')
            x = norm(x.movedim(1, -1)).movedim(-1, 1)
        outs.append(x.contiguous())

    def _outputs(self, outs: List[torch.Tensor]):
        """A tuple of stage outputs; a video model's single output alone."""
        if self.ndim == 3 and len(outs) == 1:
            return outs[0]
        return tuple(outs)

    # --------------------------------------------------------- train / freeze
    def _stage_modules(self, i: int) -> List[nn.Module]:
        names = [f'patch_embed{i + 1}', f'blocks{i + 1}', f'norm{i + 1}']
        if self.ndim == 3 and i == self.num_stages - 1:
            names.append('norm')  # the video models' final norm
        return [getattr(self, n) for n in names if hasattr(self, n)]

    def _freeze_stages(self) -> None:
        for i in range(max(self.frozen_stages, 0)):
            for module in self._stage_modules(i):
                module.eval()
                for param in module.parameters():
                    param.requires_grad = False

    def train(self, mode: bool = True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

    # ------------------------------------------------------------------- init
    @staticmethod
    def _init_module(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            trunc_normal_(module.weight, std=.02)
            if module.bias is not None:
                nn.init.constant_(module.bias, 0)
        elif isinstance(module, nn.LayerNorm):
            nn.init.constant_(module.bias, 0)
            nn.init.constant_(module.weight, 1.0)

    def init_weights(self) -> None:
        """Official initialisation, then ``init_cfg``.

        ``init_cfg=dict(type='Pretrained', checkpoint=PATH[, prefix=...])``
        goes through the ``UniFormerPretrained`` weight initializer
        (:func:`uniformer_mm.checkpoints.load_pretrained`), which reads every
        official layout weights-only and checks that every weight is
        covered.
        """
        cfg = self.init_cfg
        if isinstance(cfg, list) and len(cfg) == 1:
            cfg = cfg[0]
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            self.apply(self._init_module)
            # by registry name: checkpoints/ (which registers it) builds on
            # models/, so models/ does not import checkpoints/
            WEIGHT_INITIALIZERS.build(dict(cfg, type='UniFormerPretrained'))(
                self)
            self._is_init = True
            return
        if cfg is None:
            # no per-parameter init report from MMEngine: there is no init_cfg
            self.apply(self._init_module)
            self._is_init = True
            return
        super().init_weights()


class UniFormer(_UniFormerBase):
    """UniFormer 2D backbone for detection, segmentation and pose.

    Args:
        arch (str | dict): A preset of :data:`ARCH_ZOO_2D` (``'small'``,
            ``'small-hd32'``, ``'small-plus'``, ``'small-plus-hd32'``,
            ``'base'``, ``'base-hd32'``, ``'base-ls'``, ``'large-ls'`` and
            aliases such as ``'s'``, ``'b'``) or a dict with keys ``depths``,
            ``embed_dims``, ``head_dim`` and optionally ``mlp_ratios``,
            ``conv_stem``, ``layer_scale``. Defaults to ``'small'``.
        in_channels (int): Input channels. Defaults to 3.
        attn_mode (str): Stage-3 attention: ``'global'``, ``'window'`` or
            ``'hybrid'`` (every 4th block global, the others windowed: the
            paper's h14/h32 models). Stage 4 is always global.
            Defaults to ``'global'``.
        window_size (int): Window side for ``'window'`` / ``'hybrid'``;
            windows pad like the official code, any input size works.
            Defaults to 14.
        out_indices (Sequence[int]): Stages to output, each after its own
            LayerNorm, NCHW. Defaults to (0, 1, 2, 3).
        qkv_bias (bool): Bias of the qkv projections. Defaults to True.
        drop_rate (float): Dropout rate. Defaults to 0.
        attn_drop_rate (float): Attention dropout rate. Defaults to 0.
        drop_path_rate (float): Stochastic depth, growing linearly over all
            blocks to this value. Defaults to 0.
        with_cp (bool | Sequence): Gradient checkpointing: True/False for all
            blocks, or 4 entries, each a bool for the whole stage or the
            number of leading blocks to checkpoint (the official
            ``checkpoint_num``), e.g. ``[0, 0, 8, 0]``. Defaults to False.
        frozen_stages (int): Freeze (eval mode, no grad) stages 1..k, each
            its patch embedding, blocks and output norm; -1 or 0 freezes
            nothing. Defaults to -1.
        norm_eval (bool): Keep every BatchNorm in eval mode during training
            (frozen statistics). Defaults to False.
        fast_paths (str | dict | FastPaths): The implementation of the
            blocks, all with the same numbers: ``'fast'`` (every fast path
            on), ``'reference'`` (every one off: the official computation,
            for comparisons), or a dict of flags (the others on), e.g.
            ``dict(fused_attn=False)``. The flags (see
            :class:`~.ops.FastPaths` and :mod:`.ops`):

            * ``fused_attn``: ``scaled_dot_product_attention``, window
              attention gathered straight from the qkv projection of the
              map; off: the explicit softmax(q k^T) v over copied window
              partitions of the official code.
            * ``channels_last``: the blocks run on channels-last maps,
              where the moves between maps and token sequences are views;
              off: contiguous NCHW maps with a copy at each move.
            * ``recompute_gelu``: in training, recompute the MLPs' GELU in
              the backward pass instead of keeping its output (4x the
              channels: the largest activation of every block); about a
              fifth less training memory for one more GELU per block.
            * ``in_place``: without autograd (inference), add the residuals
              and apply the MLPs' GELU in place in the blocks' own tensors:
              fewer and smaller allocations (on the CPU each new large
              tensor pays a page fault per 4 KiB).

            Defaults to ``'fast'``.
        layer_scale_init_value (float): Initial value of the residual
            scales ``gamma_1`` / ``gamma_2`` of the stages whose arch has
            ``layer_scale``; a checkpoint overwrites them.
            Defaults to 1e-6 (the official value).
        debug (bool): Check inputs for NaN/inf (also on under
            ``torch.autograd.detect_anomaly``). Defaults to False.
        init_cfg (dict, optional): Initialisation; ``dict(type='Pretrained',
            checkpoint=PATH)`` loads any official UniFormer checkpoint
            (ImageNet, token-labeling, detection/segmentation/pose, ours).
            Defaults to None.
    """
    arch_zoo = ARCH_ZOO_2D
    ndim = 2

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 in_channels: int = 3,
                 attn_mode: str = 'global',
                 window_size: int = 14,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 **kwargs):
        if attn_mode not in ATTN_MODES:
            raise ValueError(f'UniFormer attn_mode must be one of '
                             f'{ATTN_MODES}, got {attn_mode!r}')
        if (not isinstance(window_size, int) or isinstance(window_size, bool)
                or window_size < 1):
            raise ValueError('UniFormer window_size must be an int >= 1, got '
                             f'{window_size!r}')
        self.attn_mode = attn_mode
        self.window_size = window_size
        super().__init__(arch, in_channels, out_indices, **kwargs)

    def _stage3_windows(self, depth: int) -> List[Optional[int]]:
        if self.attn_mode == 'global':
            return [None] * depth
        if self.attn_mode == 'window':
            return [self.window_size] * depth
        # hybrid: every 4th block global, as the paper's h14/h32 models
        return [
            None if (j + 1) % 4 == 0 else self.window_size
            for j in range(depth)
        ]

    def _make_patch_embed(self, stage, in_dim, dim):
        if self.arch_settings['conv_stem']:
            return ConvStem(in_dim, dim, 2 if stage == 0 else 1, self.ndim)
        return PatchEmbed(in_dim, dim, 4 if stage == 0 else 2, ndim=self.ndim)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, C, H, W) -> tuple of (N, C_i, H / 2^(i+2), W / 2^(i+2))."""
        return super().forward(x)


class UniFormer3D(_UniFormerBase):
    """UniFormer video backbone (ICLR 2022).

    A 3x4x4 stem with temporal stride 2, then 1x2x2 patch embeddings, 3x3x3
    dynamic position embeddings, 5x5x5 local MHRA with BatchNorm3d in stages
    1-2, joint spatio-temporal global MHRA in stages 3-4, and a final
    BatchNorm3d.

    Args:
        arch (str | dict): ``'small'`` / ``'base'`` (aliases ``'s'``/``'b'``)
            or a dict as for :class:`UniFormer`. Defaults to ``'small'``.
        in_channels (int): Input channels. Defaults to 3.
        out_indices (Sequence[int]): Stages to output, NCTHW. The last stage
            (index 3) passes through the final norm, like the official
            ``forward_features``; earlier stages are returned as they leave
            their blocks. Defaults to (3, ): a single tensor.
        inflate_mode (str): How 2D (ImageNet) kernels are inflated when
            loaded: ``'average'`` (official UniFormer) or ``'center'``
            (MMAction2's port). None means ``'average'``. Defaults to None.
        **kwargs: ``qkv_bias``, ``drop_rate``, ``attn_drop_rate``,
            ``drop_path_rate``, ``with_cp``, ``frozen_stages``,
            ``norm_eval``, ``fast_paths`` (and its shorthands),
            ``layer_scale_init_value``, ``debug``, ``init_cfg`` as for
            :class:`UniFormer`.
    """
    arch_zoo = ARCH_ZOO_3D
    ndim = 3

    def __init__(self,
                 arch: Union[str, dict] = 'small',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (3, ),
                 **kwargs):
        super().__init__(arch, in_channels, out_indices, **kwargs)

    def _make_patch_embed(self, stage, in_dim, dim):
        if stage == 0:
            if self.arch_settings['conv_stem']:
                raise ValueError('UniFormer3D has no conv_stem variant; the '
                                 'video models use the 3x4x4 patch stem')
            return PatchEmbed(
                in_dim, dim, (3, 4, 4), (2, 4, 4), (1, 0, 0), ndim=3)
        return PatchEmbed(in_dim, dim, (1, 2, 2), ndim=3)

    def forward(
            self,
            x: torch.Tensor) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """(N, C, T, H, W) -> (N, C_4, T / 2, H / 32, W / 32) or a tuple."""
        return super().forward(x)
