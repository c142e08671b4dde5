"""Parameters and FLOPs of UniFormer models, attention matmuls included.

Convention: **one multiply-add counts as one FLOP**, as fvcore and the
UniFormer papers count (``G`` below means 10^9 multiply-adds). The counts
come from tracing the model with MMEngine's :class:`FlopAnalyzer` (a port of
fvcore): convolutions, linear layers, matmuls and norms are counted,
element-wise ops (activations, softmax, additions, scaling) are not.

fvcore has no handle for ``aten::scaled_dot_product_attention``, so a fused
attention would silently count as zero. :func:`sdpa_flop_jit` counts it the
way the explicit ``softmax(q k^T) v`` path is counted by the matmul handle:
``B*h*N*M*d`` for ``q k^T`` plus ``B*h*N*M*d_v`` for ``attn v``. Window
attention runs the same op on (batch * windows) sequences of window**2
tokens, padding included, and the reduced token counts of hourglass blocks
are whatever sequence the traced op sees, so neither needs a special case.

What is traced per task (one image / one clip, eval mode, no weights):

* image classification (the official ImageNet models): backbone, final norm,
  global average pool, linear head over 1000 classes;
* detection (two-stage): backbone, neck, the RPN head's convolutions and the
  RoI heads on ``num_proposals`` fixed boxes, masks on the first
  ``num_mask_rois`` of them (every cascade stage on the same boxes): the
  ``forward_dummy`` of MMDetection 2.x, which the official numbers used;
* segmentation / pose: ``model(inputs, mode='tensor')`` (backbone, neck,
  decode / keypoint head, without the final resize of the logits);
* video recognition: backbone, neck and classification head of one view.
"""
from math import prod
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape

from ..models.blocks import Attention
from ..models.ops import replace_fast_paths

SDPA_OP = 'aten::scaled_dot_product_attention'


def sdpa_flop_jit(inputs: List[Any], outputs: List[Any]) -> int:
    """Multiply-adds of ``F.scaled_dot_product_attention(q, k, v)``.

    q is (..., N, d), k (..., M, d), v (..., M, d_v): ``q k^T`` costs
    ``N*M*d`` and ``attn v`` ``N*M*d_v`` per leading index.
    """
    q, k, v = (get_shape(value) for value in inputs[:3])
    batch = prod(torch.broadcast_shapes(tuple(q[:-2]), tuple(k[:-2])))
    n, d = q[-2], q[-1]
    m, d_v = k[-2], v[-1]
    return batch * n * m * (d + d_v)


def set_fused_attention(model: nn.Module, fused: bool) -> int:
    """Switch every UniFormer block between SDPA (the ``fused_attn`` fast
    path) and the explicit matmuls; returns how many :class:`Attention`
    modules were switched."""
    replace_fast_paths(model, fused_attn=fused)
    return sum(isinstance(m, Attention) for m in model.modules())


def count_flops(model: nn.Module,
                inputs: Tuple[Any, ...],
                by_module_depth: int = 0) -> Dict[str, Any]:
    """Trace ``model(*inputs)`` and count its multiply-adds.

    Args:
        model (nn.Module): The model, in the mode to count (eval).
        inputs (tuple): Positional inputs of ``model.forward``.
        by_module_depth (int): Also return the counts of submodules up to
            this depth of the module tree (0: none). Defaults to 0.

    Returns:
        dict: ``flops`` (multiply-adds), ``params`` (parameters of
        ``model``), ``by_operator`` (flops per traced op type),
        ``unsupported`` (op type -> calls that were not counted) and
        ``by_module`` (name -> flops) when asked for.
    """
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle(SDPA_OP, sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    analyzer.tracer_warnings('none')
    with torch.no_grad():
        total = analyzer.total()
    result = dict(
        flops=int(total),
        params=sum(p.numel() for p in model.parameters()),
        by_operator=dict(analyzer.by_operator()),
        unsupported=dict(analyzer.unsupported_ops()))
    if by_module_depth > 0:
        result['by_module'] = {
            name: int(flops)
            for name, flops in analyzer.by_module().items()
            if name and name.count('.') < by_module_depth
        }
    return result


class ImageClassifier(nn.Module):
    """The official ImageNet model around one of our 2D backbones.

    Backbone, the last stage's norm (ours is the backbone's LayerNorm
    ``norm4``; the official model has a BatchNorm2d there, which costs the
    same to within 0.0001 G), global average pool and a linear head.

    Args:
        backbone (nn.Module): Returns a tuple whose last entry is the last
            stage, (N, C, H, W).
        channels (int): Channels of that stage.
        num_classes (int): Defaults to 1000.
    """

    def __init__(self,
                 backbone: nn.Module,
                 channels: int,
                 num_classes: int = 1000):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(x)
        x = feats[-1] if isinstance(feats, (tuple, list)) else feats
        return self.head(x.mean(dim=(2, 3)))


class TwoStageDetectorDummy(nn.Module):
    """MMDetection 2.x ``forward_dummy`` of a (cascade) two-stage detector.

    The proposals are an input (``rois``, (num_proposals, 5) as
    ``bbox2roi`` builds them) so that every run counts the same boxes;
    masks are computed on the first ``num_mask_rois`` of them.

    Args:
        detector (nn.Module): An MMDetection 3.x two-stage detector.
        num_mask_rois (int): Defaults to 100.
    """

    def __init__(self, detector: nn.Module, num_mask_rois: int = 100):
        super().__init__()
        self.detector = detector
        self.num_mask_rois = num_mask_rois

    def forward(self, inputs: torch.Tensor, rois: torch.Tensor) -> tuple:
        det = self.detector
        x = det.extract_feat(inputs)
        outs = tuple(det.rpn_head(x))
        roi_head = det.roi_head
        mask_rois = rois[:self.num_mask_rois]
        stages = getattr(roi_head, 'num_stages', None)
        if stages is None:  # one stage of bbox + mask heads
            outs += tuple(roi_head._bbox_forward(x, rois).values())
            if roi_head.with_mask:
                outs += (roi_head._mask_forward(x, mask_rois)['mask_preds'], )
            return outs
        for stage in range(stages):
            result = roi_head._bbox_forward(stage, x, rois)
            outs += (result['cls_score'], result['bbox_pred'])
        if roi_head.with_mask:
            for stage in range(stages):
                outs += (roi_head._mask_forward(stage, x,
                                                mask_rois)['mask_preds'], )
        return outs


def dummy_rois(num: int,
               height: int,
               width: int,
               seed: int = 0) -> torch.Tensor:
    """``num`` valid boxes inside an image, as ``bbox2roi`` rows."""
    gen = torch.Generator().manual_seed(seed)
    size = torch.tensor([width, height, width, height], dtype=torch.float32)
    corners = torch.rand(num, 2, 2, generator=gen) * size[:2]
    boxes = torch.cat([corners.min(1).values, corners.max(1).values + 1], 1)
    boxes = torch.minimum(boxes, size)
    return torch.cat([torch.zeros(num, 1), boxes], 1)


class TensorForward(nn.Module):
    """``model(inputs, None, mode='tensor')`` as a one-input module."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        return self.model(inputs, None, mode='tensor')


class RecognizerForward(nn.Module):
    """Backbone, neck and classification head of a video recognizer on one
    view (N, C, T, H, W)."""

    def __init__(self, recognizer: nn.Module):
        super().__init__()
        self.recognizer = recognizer

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        rec = self.recognizer
        x = rec.backbone(inputs)
        if getattr(rec, 'with_neck', False):
            x = rec.neck(x)
            x = x[0] if isinstance(x, tuple) else x
        return rec.cls_head(x)


def format_gflops(flops: float, digits: int = 1) -> str:
    """10^9 multiply-adds, e.g. ``'3.6'``."""
    return f'{flops / 1e9:.{digits}f}'


def relative_diff(ours: float, paper: Optional[float]) -> Optional[float]:
    """(ours - paper) / paper, None without a paper figure."""
    if not paper:
        return None
    return (ours - paper) / paper


def shape_str(shape: Sequence[int]) -> str:
    return '×'.join(str(s) for s in shape)
