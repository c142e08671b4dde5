"""Hourglass UniFormer backbones (UniFormer-XXS / XS): 2D and 3D.

The lightweight design of the TPAMI paper (Li et al., "UniFormer: Unifying
Convolution and Self-attention for Visual Recognition", Sec. "Hourglass
UniFormer"). Stages 1-2 are the family's convolution blocks. From stage 3 on
a class token rides along with the patch tokens, and every block keeps a
running score per token: its class-token attention, averaged over heads,
mixed with the previous score by the block's ``trade_off``. A block with
``prune_ratio`` r < 1

1. ranks the tokens by score and keeps the top ``int(N * r)`` (shrink),
2. merges the rest, weighted by their scores, into one representative token
   that attends and is attended with the kept ones,
3. adds the representative token's residual updates to every dropped token
   and puts all tokens back in place (recover).

After stage 3 the scores are average-pooled to the stage-4 grid (keeping
their sum) and the class token is widened by ``cls_upsample``.

The official code keeps the scores and the token order in module globals;
here they travel with the forward pass (:class:`_Tokens`), so several models
(and threads) run side by side. Blocks are the family's
:class:`~.blocks.AttentionBlock` -- the hourglass changes which tokens a block
sees, not the block -- so parameter names, and the official checkpoints,
match unchanged.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp

from .arch import ARCH_ZOO_LIGHT_2D, ARCH_ZOO_LIGHT_3D, resolve_light_arch
from .blocks import AttentionBlock, ConvStem, PatchEmbed, _scaled
from .uniformer import _UniFormerBase


class _Tokens(NamedTuple):
    """What the hourglass stages carry from block to block.

    Attributes:
        cls_token (Tensor): (B, 1, C).
        x (Tensor): The patch-token map (B, C, *spatial), every token in
            place.
        scores (Tensor | None): (B, N) float32 running token scores in map
            order; None until the first block computes them, and whenever no
            later block needs them.
    """
    cls_token: torch.Tensor
    x: torch.Tensor
    scores: Optional[torch.Tensor]


def _transformer(block: AttentionBlock, seq: torch.Tensor, want_scores: bool):
    """The pre-norm attention + MLP of ``block`` on a token sequence.

    Returns:
        tuple: the new sequence; the class-token attention scores (or None);
        the sum of both residual branches at the last token (the update of
        the representative token, scaled by layer scale but, as the official
        code, without drop path).
    """
    y = block.norm1(seq)
    if want_scores:
        y, scores = block.attn(y, first_token_scores=True)
    else:
        y, scores = block.attn(y), None
    y = _scaled(block.gamma_1, y)
    # seq is always made here (a concatenation): safe to sum into
    seq = block.fast_paths.add(seq, block.drop_path(y))
    z = _scaled(block.gamma_2, block.mlp(block.norm2(seq)))
    seq = block.fast_paths.add(seq, block.drop_path(z))
    return seq, scores, y[:, -1:] + z[:, -1:]


def _mix(old: Optional[torch.Tensor], new: torch.Tensor,
         trade_off: float) -> torch.Tensor:
    if old is None:  # the first scores are the attention itself
        return new
    return (1 - trade_off) * old + trade_off * new


def hourglass_block(block: AttentionBlock, state: _Tokens, prune_ratio: float,
                    trade_off: float, track_scores: bool) -> _Tokens:
    """Run one attention block of a hourglass stage.

    Args:
        block (AttentionBlock): The block (global attention).
        state (_Tokens): Class token, token map and running scores.
        prune_ratio (float): Share of the tokens attended directly; 1 runs
            the block on every token (no scores needed).
        trade_off (float): Weight of this block's class-token attention in
            the updated scores.
        track_scores (bool): Whether a later block needs the scores; when
            False they are neither computed nor returned.

    Returns:
        _Tokens: the updated state, every token back in place.
    """
    cls_token, x, scores = state
    nchw = x.is_contiguous()  # the caller's layout, kept as AttentionBlock
    paths = block.fast_paths
    x = paths.add(paths.depthwise(block.pos_embed, x), x)
    B, C, *spatial = x.shape
    tokens = x.movedim(1, -1).reshape(B, -1, C)
    N = tokens.shape[1]
    if prune_ratio == 1:
        seq, new, _ = _transformer(block, torch.cat([cls_token, tokens],
                                                    dim=1), track_scores)
        scores = _mix(scores, new, trade_off) if track_scores else None
        tokens = seq[:, 1:]
    else:
        keep = int(N * prune_ratio)
        order = scores.argsort(dim=1, descending=True)
        index = order.unsqueeze(-1).expand(-1, -1, C)
        ranked = tokens.gather(1, index)
        ranked_scores = scores.gather(1, order)
        dropped, drop_scores = ranked[:, keep:], ranked_scores[:, keep:]
        weights = drop_scores / drop_scores.sum(dim=1, keepdim=True)
        representative = (weights.unsqueeze(-1).to(dropped.dtype) *
                          dropped).sum(
                              dim=1, keepdim=True)
        seq = torch.cat([cls_token, ranked[:, :keep], representative], dim=1)
        seq, new, update = _transformer(block, seq, track_scores)
        if track_scores:
            # Only the kept tokens were attended to; a single dropped token
            # is the representative token itself, so it is updated too.
            n = N if N - keep == 1 else keep
            ranked_scores = torch.cat([
                _mix(ranked_scores[:, :n], new[:, :n], trade_off),
                ranked_scores[:, n:]
            ],
                                      dim=1)
            scores = ranked_scores.new_empty(B, N).scatter(
                1, order, ranked_scores)
        else:
            scores = None
        ranked = torch.cat([seq[:, 1:-1], dropped + update], dim=1)
        tokens = ranked.new_empty(B, N, C).scatter(1, index, ranked)
    x = tokens.reshape(B, *spatial, C).movedim(-1, 1)
    return _Tokens(seq[:, :1], x.contiguous() if nchw else x, scores)


def _pool_scores(scores: torch.Tensor, spatial: Sequence[int]) -> torch.Tensor:
    """Scores of a stage-3 map -> the stage-4 grid (2x2 spatial mean),
    rescaled to the same total as the official code."""
    B = scores.shape[0]
    grid = scores.view(B, 1, *spatial)
    if len(spatial) == 2:
        pooled = F.avg_pool2d(grid, 2, 2)
    else:
        pooled = F.avg_pool3d(grid, (1, 2, 2), (1, 2, 2))
    pooled = pooled.reshape(B, -1)
    return pooled * (
        scores.sum(dim=1, keepdim=True) / pooled.sum(dim=1, keepdim=True))


class _UniFormerLightBase(_UniFormerBase):
    """What the 2D and 3D hourglass backbones share: arch handling, the
    class token, the hourglass stages 3-4 and their freezing.

    The family base builds every stage; stages 3-4 are its plain
    global-attention blocks, run the hourglass way in forward.
    """
    arch_zoo = ARCH_ZOO_LIGHT_2D
    out_cls_token = False

    def _resolve_arch(self, arch: Union[str, dict], owner: str) -> dict:
        return resolve_light_arch(arch, self.arch_zoo, owner)

    def _make_stage_extras(self) -> None:
        self.prune_ratios = self.arch_settings['prune_ratios']
        self.trade_offs = self.arch_settings['trade_offs']
        # scores are computed by a block only when a later block prunes
        ratios = self.prune_ratios[2] + self.prune_ratios[3]
        later = [
            any(r < 1 for r in ratios[j + 1:]) for j in range(len(ratios))
        ]
        self._track = [later[:self.depths[2]], later[self.depths[2]:]]
        dims = self.embed_dims
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims[2]))
        self.cls_upsample = nn.Linear(dims[2], dims[3])

    def _run_hourglass(self, i: int, state: _Tokens) -> _Tokens:
        """Stage ``i`` (2 or 3) on a state whose map has not been embedded
        yet."""
        blocks = getattr(self, f'blocks{i + 1}')
        for j, block in enumerate(blocks):
            args = (block, state, self.prune_ratios[i][j],
                    self.trade_offs[i][j], self._track[i - 2][j])
            if j < self.cp_blocks[i] and torch.is_grad_enabled():
                state = _Tokens(*cp.checkpoint(
                    hourglass_block, *args, use_reentrant=False))
            else:
                state = hourglass_block(*args)
        return state

    def forward(self, x: torch.Tensor):
        """Run all four stages; the outputs as the subclass says."""
        self._check_input(x)
        x = self.fast_paths.layout(x)
        outs = []
        for i in range(2):
            x = self._run_stage(i, x)
            self._collect_output(i, x, outs)
        x = self.patch_embed3(x)
        cls_token = self.cls_token.expand(x.shape[0], -1, -1)
        state = self._run_hourglass(2, _Tokens(cls_token, x, None))
        self._collect_output(2, state.x, outs)
        x = self.patch_embed4(state.x)
        scores = state.scores
        if scores is not None:
            scores = _pool_scores(scores, state.x.shape[2:])
        state = _Tokens(self.cls_upsample(state.cls_token), x, scores)
        state = self._run_hourglass(3, state)
        self._collect_output(3, state.x, outs)
        if self.out_cls_token:
            return self._outputs(outs), state.cls_token.flatten(1)
        return self._outputs(outs)

    def _stage_modules(self, i: int) -> List[nn.Module]:
        modules = super()._stage_modules(i)
        return modules + [self.cls_upsample] if i == 3 else modules

    def _freeze_stages(self) -> None:
        super()._freeze_stages()
        if self.frozen_stages >= 3:  # the class token enters in stage 3
            self.cls_token.requires_grad = False


class UniFormerLight(_UniFormerLightBase):
    """Hourglass UniFormer 2D backbone (UniFormer-XXS / XS) for detection,
    segmentation and pose.

    Args:
        arch (str | dict): ``'xxs'`` or ``'xs'`` (:data:`ARCH_ZOO_LIGHT_2D`),
            or a dict with the keys of :class:`~.uniformer.UniFormer`'s arch
            plus ``prune_ratios`` and ``trade_offs`` (4 lists, one float per
            block, empty for stages 1-2; see
            :func:`~.arch.resolve_light_arch`). Here ``conv_stem=True`` is
            the two-convolution stem of stage 1 only, as the official models.
            ``unpruned_arch('xs')`` gives a preset with every prune ratio 1
            (no token is dropped). Defaults to ``'xxs'``.
        in_channels (int): Input channels. Defaults to 3.
        out_indices (Sequence[int]): Stages to output, each after its own
            LayerNorm, NCHW, every token in place. Defaults to (0, 1, 2, 3).
        **kwargs: ``qkv_bias``, ``drop_rate``, ``attn_drop_rate``,
            ``drop_path_rate``, ``with_cp``, ``frozen_stages`` (stage 3
            includes ``cls_token``, stage 4 ``cls_upsample``),
            ``norm_eval``, ``fast_paths`` (and its shorthands),
            ``layer_scale_init_value`` (initial residual scales of an arch
            with ``layer_scale``, default 1e-6), ``debug``, ``init_cfg`` as
            for :class:`~.uniformer.UniFormer`.
            ``init_cfg=dict(type='Pretrained', checkpoint=PATH)`` loads the
            official ImageNet (128-224 px), COCO and ADE20K XXS/XS files.
    """
    arch_zoo = ARCH_ZOO_LIGHT_2D
    ndim = 2

    def __init__(self,
                 arch: Union[str, dict] = 'xxs',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 **kwargs):
        super().__init__(arch, in_channels, out_indices, **kwargs)

    def _make_patch_embed(self, stage, in_dim, dim):
        if stage == 0 and self.arch_settings['conv_stem']:
            return ConvStem(in_dim, dim, 2, self.ndim)
        return PatchEmbed(in_dim, dim, 4 if stage == 0 else 2, ndim=self.ndim)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(N, C, H, W) -> tuple of (N, C_i, H / 2^(i+2), W / 2^(i+2))."""
        return super().forward(x)


class UniFormerLight3D(_UniFormerLightBase):
    """Hourglass UniFormer video backbone (UniFormer-XXS / XS, Kinetics).

    The stem is two 3x3x3 convolutions with strides 1x2x2 and 2x2x2 (time
    halved once), then 1x2x2 patch embeddings; stages 3-4 attend jointly over
    space and time with token shrinking/recovering, and the 2x2 score pooling
    after stage 3 is spatial only. A final BatchNorm3d follows stage 4.

    Args:
        arch (str | dict): ``'xxs'``, ``'xs'`` or ``'xxs-ls'`` (layer scale
            in every block: the official 4- and 8-frame 128 px and 4-frame
            160 px Kinetics models), see :data:`ARCH_ZOO_LIGHT_3D`, or a dict
            as for :class:`UniFormerLight`. ``conv_stem=False`` uses
            :class:`~.uniformer.UniFormer3D`'s 3x4x4 patch stem instead.
            Defaults to ``'xxs'``.
        in_channels (int): Input channels. Defaults to 3.
        out_indices (Sequence[int]): Stages to output, NCTHW; stage 4 after
            the final norm (the official ``forward_features``), earlier ones
            as they leave their blocks. Defaults to (3, ): a single tensor.
        inflate_mode (str, optional): How 2D (ImageNet) kernels are
            inflated: ``'average'`` (official) or ``'center'``; None means
            ``'average'``. Defaults to None.
        **kwargs: as for :class:`UniFormerLight`, plus
            ``layer_scale_init_value`` (float): the initial residual scales
            of a layer-scale arch; an ImageNet file (which has none) leaves
            them there. The official ``'xxs-ls'`` runs used 0.1.
            Defaults to 1e-6.
        out_cls_token (bool): Also return the class token leaving stage 4,
            ``(outputs, cls_token)`` with ``cls_token`` (N, C_4): the input
            of the official second classifier (``head_cls``, trained with
            the patch-token one; see
            :class:`~uniformer_mm.models.light_video_head.UniFormerLightHead`).
            Defaults to False.
    """
    arch_zoo = ARCH_ZOO_LIGHT_3D
    ndim = 3

    def __init__(self,
                 arch: Union[str, dict] = 'xxs',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (3, ),
                 out_cls_token: bool = False,
                 **kwargs):
        super().__init__(arch, in_channels, out_indices, **kwargs)
        self.out_cls_token = bool(out_cls_token)

    def _make_patch_embed(self, stage, in_dim, dim):
        if stage > 0:
            return PatchEmbed(in_dim, dim, (1, 2, 2), ndim=3)
        if self.arch_settings['conv_stem']:
            return ConvStem(
                in_dim, dim, 2, ndim=3, strides=[(1, 2, 2), (2, 2, 2)])
        return PatchEmbed(in_dim, dim, (3, 4, 4), (2, 4, 4), (1, 0, 0), ndim=3)

    def forward(
            self,
            x: torch.Tensor) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """(N, C, T, H, W) -> (N, C_4, T / 2, H / 32, W / 32) or a tuple;
        with ``out_cls_token``, ``(that, (N, C_4) class token)``."""
        return super().forward(x)
