"""End-to-end ONNX export of MMDetection's two-stage detectors (Mask R-CNN,
Cascade Mask R-CNN, their box-only variants) with their post-processing.

:class:`DetectorOutputs` re-implements what ``model.predict`` computes after
the backbone and neck -- the RPN's proposals, the RoI heads and the
per-class NMS -- as batched tensor computations of fixed output size, in the
manner of MMDeploy's rewrites of ``predict_by_feat`` (MMDeploy itself does
not install next to onnx 1.23). The two operators PyTorch has no ONNX export
for are :class:`NMSop` and :class:`RoIAlignOp`: in PyTorch they run MMCV's
``nms`` / ``roi_align``; in the graph they are ONNX's ``NonMaxSuppression``
and ``RoiAlign`` (``half_pixel``, MMCV's ``aligned=True``). The same module
therefore runs in eager mode, for the parity check, and exports.

Outputs, MMDeploy's convention, ``D`` = ``test_cfg.rcnn.max_per_img``:

* ``dets`` (N, D, 5): x1, y1, x2, y2, score in input pixels (boxes clipped
  to the input size), best first;
* ``labels`` (N, D): class index, int64;
* ``masks`` (N, D, h, w) (mask heads only): the mask head's probabilities
  of the detected class on the RoI grid (28x28), not pasted into the image
  (paste with the box, e.g. MMDetection's ``_do_paste_mask``, threshold
  ``mask_thr_binary``).

Slots beyond an image's detections hold score 0, label -1, a zero box and
a zero mask.
"""
import math
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

# a score below every RPN score (sigmoid/softmax >= 0): the padding of the
# RPN's per-level top-k and the boxes under ``min_bbox_size``, which the RPN's
# NMS (score threshold -0.5) then drops
_NO_SCORE = -1.


class NMSop(torch.autograd.Function):
    """ONNX ``NonMaxSuppression`` of one class per image: MMCV's ``nms`` in
    PyTorch.

    Args (of ``apply``):
        boxes (Tensor): (N, M, 4) x1, y1, x2, y2.
        scores (Tensor): (N, 1, M).
        max_out (int): Most boxes kept per image.
        iou_thr (float): Boxes overlapping a kept one by more are dropped.
        score_thr (float): Only boxes scoring more take part.

    Returns:
        Tensor: (K, 3) int64 rows (image, 0, box index), grouped by image,
        best first within an image, as ONNX Runtime returns them.
    """

    @staticmethod
    def forward(ctx, boxes, scores, max_out, iou_thr, score_thr):
        from mmcv.ops import nms
        rows = []
        for b in range(boxes.shape[0]):
            cand = (scores[b, 0] > score_thr).nonzero().squeeze(1)
            _, keep = nms(boxes[b, cand], scores[b, 0, cand], iou_thr)
            keep = cand[keep[:max_out]]
            rows.append(
                torch.stack(
                    [torch.full_like(keep, b),
                     torch.zeros_like(keep), keep], 1))
        return torch.cat(rows).long()

    @staticmethod
    def symbolic(g, boxes, scores, max_out, iou_thr, score_thr):
        return g.op(
            'NonMaxSuppression',
            boxes,
            scores,
            g.op('Constant', value_t=torch.tensor([max_out])),
            g.op('Constant', value_t=torch.tensor([iou_thr])),
            g.op('Constant', value_t=torch.tensor([score_thr])),
            center_point_box_i=0)


class RoIAlignOp(torch.autograd.Function):
    """ONNX ``RoiAlign`` (opset 16, ``half_pixel``, average): MMCV's
    ``roi_align(..., pool_mode='avg', aligned=True)`` in PyTorch.

    Args (of ``apply``):
        feat (Tensor): (N, C, H, W) feature map.
        rois (Tensor): (R, 4) x1, y1, x2, y2 in input pixels.
        batch_idx (Tensor): (R, ) int64 image of each RoI.
        out_h, out_w (int): Output grid.
        spatial_scale (float): Feature map size / input size.
        sampling_ratio (int): Samples per bin side, 0: adaptive.

    Returns:
        Tensor: (R, C, out_h, out_w).
    """

    @staticmethod
    def forward(ctx, feat, rois, batch_idx, out_h, out_w, spatial_scale,
                sampling_ratio):
        from mmcv.ops import roi_align
        rois5 = torch.cat([batch_idx[:, None].to(rois), rois], 1)
        return roi_align(feat, rois5, (out_h, out_w), spatial_scale,
                         sampling_ratio, 'avg', True)

    @staticmethod
    def symbolic(g, feat, rois, batch_idx, out_h, out_w, spatial_scale,
                 sampling_ratio):
        return g.op(
            'RoiAlign',
            feat,
            rois,
            batch_idx,
            coordinate_transformation_mode_s='half_pixel',
            mode_s='avg',
            output_height_i=out_h,
            output_width_i=out_w,
            sampling_ratio_i=sampling_ratio,
            spatial_scale_f=spatial_scale)


def _arange_like(t: torch.Tensor) -> torch.Tensor:
    """0, 1, ... len(t) - 1 in ``t``'s dtype, traced from ``t``'s length
    (an ``arange`` of a size the trace may keep as a constant)."""
    return torch.ones_like(t).cumsum(0) - 1


def _per_image(selected: torch.Tensor, slots: torch.Tensor,
               k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """The NMS's kept indices in fixed slots.

    Args:
        selected (Tensor): (K, 3) from :class:`NMSop`.
        slots (Tensor): Any (N, k) tensor (gives the batch size).
        k (int): Slots per image (the NMS kept at most ``k``).

    Returns:
        tuple: (N, k) box index (0 in empty slots) and (N, k) bool: filled.
    """
    image, index = selected[:, 0], selected[:, 2]
    # rows come grouped by image, best first: a row's rank in its image is
    # its position less the rows of the images before
    earlier = (image[None, :] < image[:, None]).sum(1)
    slot = image * k + _arange_like(image) - earlier
    # a row that matches no slot, so that no detection at all still works
    slot = torch.cat([slot, slot.new_full((1, ), -1)])
    index = torch.cat([index, index.new_zeros(1)])
    match = _arange_like(slots.reshape(-1).long())[:, None] == slot[None, :]
    filled = match.sum(1) > 0
    index = torch.where(filled, index[match.float().argmax(1)], 0)
    return index.view_as(slots), filled.view_as(slots)


def _gather(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values[b, index[b, j]]`` for values (N, M, ...) and index (N, k)."""
    idx = index.reshape(*index.shape, *([1] * (values.dim() - 2)))
    idx = idx.repeat(1, 1, *values.shape[2:])
    return torch.gather(values, 1, idx)


def _nms_cfg(cfg, where: str) -> Dict:
    """The ``nms`` settings of a ``test_cfg`` part, refused unless plain
    NMS (what ONNX ``NonMaxSuppression`` computes)."""
    nms = dict(cfg.nms)
    kind = nms.pop('type', 'nms')
    if kind != 'nms' or nms.get('offset', 0) != 0:
        raise NotImplementedError(
            f'{where}: only plain NMS (type=nms, offset 0, ONNX '
            f'NonMaxSuppression) exports, got {cfg.nms}; set '
            f"{where}.nms=dict(type='nms', iou_threshold=...)")
    return nms


def _batched_nms(boxes: torch.Tensor, scores: torch.Tensor,
                 groups: torch.Tensor, iou_thr: float, score_thr: float,
                 max_out: int, agnostic: bool) -> torch.Tensor:
    """MMCV's ``batched_nms`` per image: NMS within each group (class or
    level) by shifting each group's boxes apart by the largest coordinate
    of the boxes taking part plus 1, as MMCV does.

    Returns:
        Tensor: (K, 3) rows of :class:`NMSop`.
    """
    if not agnostic:
        taking_part = (scores > score_thr)[..., None]
        top = torch.where(taking_part, boxes, torch.zeros_like(boxes))
        top = top.flatten(1).max(1)[0][:, None, None]
        boxes = boxes + (groups.to(boxes)[..., None] * (top + 1))
    return NMSop.apply(boxes, scores[:, None], max_out, iou_thr, score_thr)


def _check_coder(coder) -> None:
    """Refuse a box coder :func:`_decode` does not reproduce."""
    if type(coder).__name__ != 'DeltaXYWHBBoxCoder' or getattr(
            coder, 'add_ctr_clamp', False):
        raise NotImplementedError(
            f'{type(coder).__name__}: only DeltaXYWHBBoxCoder without '
            'add_ctr_clamp is exported')


def _decode(coder, priors: torch.Tensor, deltas: torch.Tensor,
            size: torch.Tensor) -> torch.Tensor:
    """MMDetection's ``delta2bbox`` with broadcasting, clipped to ``size``
    (a tensor (W, H, W, H), from the input's shape so that it follows the
    input size in the graph)."""
    stds, means = deltas.new_tensor(coder.stds), deltas.new_tensor(coder.means)
    d = deltas * stds + means
    pxy = (priors[..., :2] + priors[..., 2:]) * 0.5
    pwh = priors[..., 2:] - priors[..., :2]
    # DeltaXYWHBBoxCoder.decode's default, which the heads do not change
    max_ratio = abs(math.log(16 / 1000))
    gxy = pxy + pwh * d[..., :2]
    gwh = pwh * d[..., 2:].clamp(min=-max_ratio, max=max_ratio).exp()
    boxes = torch.cat([gxy - gwh * 0.5, gxy + gwh * 0.5], -1)
    if coder.clip_border:
        boxes = torch.minimum(boxes.clamp(min=0), size)
    return boxes


class DetectorOutputs(nn.Module):
    """A two-stage MMDetection detector from the normalised image batch to
    fixed-size detections (see the module's docstring for the outputs).

    Equals ``model.predict(x, samples, rescale=False)`` with every
    sample's ``img_shape`` the input size (the preprocessor's padding is
    outside the graph).

    Args:
        model (nn.Module): A ``TwoStageDetector`` with an ``RPNHead`` and a
            ``StandardRoIHead`` or ``CascadeRoIHead`` (FCN mask heads or
            none).

    Raises:
        NotImplementedError: another head, box coder, NMS kind or RoI
            layer, naming what is supported.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        rpn = getattr(model, 'rpn_head', None)
        roi = getattr(model, 'roi_head', None)
        kind = type(roi).__name__
        if type(rpn).__name__ != 'RPNHead' or kind not in ('StandardRoIHead',
                                                           'CascadeRoIHead'):
            raise NotImplementedError(
                f'{type(model).__name__} with {type(rpn).__name__} and '
                f'{kind}: end-to-end export supports two-stage detectors '
                'with an RPNHead and a StandardRoIHead or CascadeRoIHead '
                '(Mask R-CNN, Cascade (Mask) R-CNN); export the backbone '
                'with --backbone-only')
        self.cascade = kind == 'CascadeRoIHead'
        self.with_mask = roi.with_mask
        bbox_heads = list(roi.bbox_head) if self.cascade else [roi.bbox_head]
        for head in [rpn] + bbox_heads:
            _check_coder(head.bbox_coder)
        for head in bbox_heads:
            if head.custom_cls_channels or head.custom_activation:
                raise NotImplementedError(
                    f'{type(head).__name__}: only softmax classification '
                    'is exported')
        self.rpn_cfg, self.rcnn_cfg = model.test_cfg.rpn, model.test_cfg.rcnn
        self.rpn_nms = _nms_cfg(self.rpn_cfg, 'test_cfg.rpn')
        self.rcnn_nms = _nms_cfg(self.rcnn_cfg, 'test_cfg.rcnn')
        if self.rpn_cfg.get('max_per_img') is None:
            raise NotImplementedError(
                'test_cfg.rpn needs max_per_img (the proposals per image)')
        self.output_names = ['dets', 'labels']
        if self.with_mask:
            self.output_names.append('masks')
        # the model's mode, not nn.Module's default (training)
        self.train(model.training)

    # ---- RPN ---------------------------------------------------------
    def _anchors(self, feat: torch.Tensor, level: int) -> torch.Tensor:
        """MMDetection's ``single_level_grid_priors``, (H * W * A, 4),
        with the grid traced from the feature map's size."""
        gen = self.model.rpn_head.prior_generator
        stride_w, stride_h = gen.strides[level]
        base = gen.base_anchors[level].to(feat)
        sx = _arange_like(feat[0, 0, 0, :]) * stride_w
        sy = _arange_like(feat[0, 0, :, 0]) * stride_h
        sx, sy = sx[None, :] + 0 * sy[:, None], sy[:, None] + 0 * sx[None, :]
        shifts = torch.stack([sx, sy, sx, sy], -1).reshape(-1, 1, 4)
        return (shifts + base[None]).reshape(-1, 4)

    def _proposals(self, feats: Sequence[torch.Tensor],
                   size: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """RPNHead.predict_by_feat: (N, P, 4) proposals, (N, P) filled."""
        head, cfg = self.model.rpn_head, self.rpn_cfg
        cls_scores, bbox_preds = head(feats)
        nms_pre = cfg.get('nms_pre', -1)
        all_scores, all_boxes, levels = [], [], []
        for level, (cls, reg) in enumerate(zip(cls_scores, bbox_preds)):
            n = cls.shape[0]
            out_channels = head.cls_out_channels
            cls = cls.permute(0, 2, 3, 1).reshape(n, -1, out_channels)
            scores = (
                cls.sigmoid()[..., 0]
                if head.use_sigmoid_cls else cls.softmax(-1)[..., 0])
            deltas = reg.permute(0, 2, 3, 1).reshape(n, -1, 4)
            anchors = self._anchors(cls_scores[level], level)
            anchors = anchors[None] + torch.zeros_like(deltas)
            if nms_pre > 0:
                # padded to nms_pre entries so that top-k has a fixed k
                # (equal to mmdet's "all of them" on smaller levels)
                pad = scores.new_full((1, nms_pre), _NO_SCORE)
                scores = torch.cat([scores, pad + 0 * scores[:, :1]], 1)
                pad4 = deltas.new_zeros((1, nms_pre, 4)) + 0 * deltas[:, :1]
                deltas = torch.cat([deltas, pad4], 1)
                anchors = torch.cat([anchors, pad4], 1)
                scores, top = scores.topk(nms_pre, dim=1)
                deltas, anchors = _gather(deltas, top), _gather(anchors, top)
            all_scores.append(scores)
            all_boxes.append(_decode(head.bbox_coder, anchors, deltas, size))
            levels.append(torch.full_like(scores, level))
        scores = torch.cat(all_scores, 1)
        boxes = torch.cat(all_boxes, 1)
        min_size = cfg.get('min_bbox_size', -1)
        if min_size >= 0:
            wh = boxes[..., 2:] - boxes[..., :2]
            small = (wh[..., 0] <= min_size) | (wh[..., 1] <= min_size)
            scores = torch.where(small, torch.full_like(scores, _NO_SCORE),
                                 scores)
        k = cfg.max_per_img
        agnostic = self.rpn_nms.get('class_agnostic', False)
        selected = _batched_nms(boxes, scores, torch.cat(levels, 1),
                                self.rpn_nms['iou_threshold'], _NO_SCORE / 2,
                                k, agnostic)
        slots = scores[:, :1] * 0 + scores.new_zeros(1, k)  # (N, k)
        index, filled = _per_image(selected, slots, k)
        proposals = _gather(boxes, index)
        return proposals * filled[..., None], filled

    # ---- RoI heads ---------------------------------------------------
    @staticmethod
    def _roi_feats(extractor, feats: Sequence[torch.Tensor],
                   rois: torch.Tensor,
                   batch_idx: torch.Tensor) -> torch.Tensor:
        """SingleRoIExtractor: each RoI pooled from its FPN level, the
        RoIAlign of every level computed for every RoI and selected."""
        if type(extractor).__name__ != 'SingleRoIExtractor':
            raise NotImplementedError(
                f'{type(extractor).__name__}: only SingleRoIExtractor '
                'is exported')
        layers = extractor.roi_layers
        for layer in layers:
            if type(layer).__name__ != 'RoIAlign' or not layer.aligned or (
                    layer.pool_mode != 'avg'):
                raise NotImplementedError(
                    f'{layer}: only RoIAlign with aligned=True and '
                    "pool_mode='avg' (ONNX RoiAlign, half_pixel) exports")
        out = None
        if len(layers) > 1:
            wh = rois[:, 2:] - rois[:, :2]
            scale = torch.sqrt(wh[:, 0] * wh[:, 1])
            level = torch.floor(
                torch.log2(scale / extractor.finest_scale + 1e-6))
            level = level.clamp(min=0, max=len(layers) - 1)
        for i, layer in enumerate(layers):
            h, w = layer.output_size
            pooled = RoIAlignOp.apply(feats[i], rois, batch_idx, int(h),
                                      int(w), float(layer.spatial_scale),
                                      int(layer.sampling_ratio))
            out = pooled if out is None else torch.where(
                (level == i)[:, None, None, None], pooled, out)
        return out

    def _bboxes(self, feats, proposals, filled, size):
        """The RoI head's boxes and class scores before NMS:
        (N, P, C, 4) boxes, (N, P, C) scores (0 for empty slots)."""
        roi = self.model.roi_head
        n, p = proposals.shape[:2]
        rois = proposals.reshape(-1, 4)
        batch_idx = (_arange_like(proposals[:, 0, 0]).long()[:, None] +
                     torch.zeros_like(filled, dtype=torch.long)).reshape(-1)
        if self.cascade:
            stages = list(zip(roi.bbox_roi_extractor, roi.bbox_head))
        else:
            stages = [(roi.bbox_roi_extractor, roi.bbox_head)]
        all_cls = []
        for stage, (extractor, head) in enumerate(stages):
            x = self._roi_feats(extractor, feats[:extractor.num_inputs], rois,
                                batch_idx)
            cls, reg = head(x)
            all_cls.append(cls)
            deltas = reg.reshape(rois.shape[0], -1, 4)
            if stage < len(stages) - 1:
                # CascadeRoIHead._refine_roi: the next stage's RoIs are
                # this stage's boxes of its best class
                if not head.reg_class_agnostic:
                    label = cls[:, :-1].argmax(1)[:, None, None]
                    deltas = torch.gather(deltas, 1, label.repeat(1, 1, 4))
                rois = _decode(head.bbox_coder, rois, deltas[:, 0], size)
        # cascade: the mean of the stages' logits (sum, then divided)
        cls = sum(all_cls) / float(len(all_cls)) if self.cascade else cls
        scores = F.softmax(cls, dim=-1)[:, :-1]
        boxes = _decode(head.bbox_coder, rois[:, None], deltas, size)
        if head.reg_class_agnostic:
            boxes = boxes.expand(-1, scores.shape[1], -1)
        scores = scores.reshape(n, p, -1) * filled[..., None]
        return boxes.reshape(n, p, -1, 4), scores

    def _masks(self, feats, boxes, labels, filled):
        """The mask head's probabilities of the label class, (N, D, h, w);
        cascade: the mean of the stages' probabilities."""
        roi = self.model.roi_head
        rois = boxes.reshape(-1, 4)
        batch_idx = (_arange_like(boxes[:, 0, 0]).long()[:, None] +
                     torch.zeros_like(labels)).reshape(-1)
        if self.cascade:
            stages = list(zip(roi.mask_roi_extractor, roi.mask_head))
        else:
            stages = [(roi.mask_roi_extractor, roi.mask_head)]
        probs = []
        for extractor, head in stages:
            x = self._roi_feats(extractor, feats[:extractor.num_inputs], rois,
                                batch_idx)
            probs.append(head(x).sigmoid())
        prob = torch.stack(probs).mean(0) if self.cascade else probs[0]
        if prob.shape[1] > 1:  # class-specific masks: the label's
            label = labels.clamp(min=0).reshape(-1, 1, 1, 1)
            label = label.repeat(1, 1, *prob.shape[-2:])
            prob = torch.gather(prob, 1, label)
        prob = prob[:, 0].reshape(*boxes.shape[:2], *prob.shape[-2:])
        return prob * filled[..., None, None]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        feats = self.model.extract_feat(x)
        hw = torch._shape_as_tensor(x)[2:].to(x.dtype)
        size = torch.stack([hw[1], hw[0], hw[1], hw[0]])
        proposals, filled = self._proposals(feats, size)
        boxes, scores = self._bboxes(feats, proposals, filled, size)
        n, p, c = scores.shape
        cfg, k = self.rcnn_cfg, self.rcnn_cfg.max_per_img
        # multiclass_nms: every (RoI, class) a candidate, NMS per class
        labels = _arange_like(scores[0, 0]).long()
        labels = labels + torch.zeros_like(scores, dtype=torch.long)
        boxes = boxes.reshape(n, -1, 4)
        scores, labels = scores.reshape(n, -1), labels.reshape(n, -1)
        agnostic = self.rcnn_nms.get('class_agnostic', False)
        selected = _batched_nms(boxes, scores, labels,
                                self.rcnn_nms['iou_threshold'],
                                float(cfg.score_thr), k, agnostic)
        slots = scores[:, :1] * 0 + scores.new_zeros(1, k)  # (N, k)
        index, filled = _per_image(selected, slots, k)
        det_boxes = _gather(boxes, index) * filled[..., None]
        det_scores = _gather(scores, index) * filled
        det_labels = torch.where(filled, _gather(labels, index),
                                 torch.full_like(index, -1))
        dets = torch.cat([det_boxes, det_scores[..., None]], -1)
        if not self.with_mask:
            return dets, det_labels
        masks = self._masks(feats, det_boxes, det_labels, filled)
        return dets, det_labels, masks


def compare_detections(ref: Sequence[torch.Tensor],
                       out: Sequence) -> Dict[str, float]:
    """Differences between two outputs of :class:`DetectorOutputs`
    (PyTorch ``ref``, ONNX Runtime ``out``), slot by slot.

    Returns:
        dict: ``detections`` / ``detections_out`` (filled slots of each),
        ``labels_equal`` (fraction of slots with the same label),
        ``boxes`` (largest box coordinate difference relative to the
        largest coordinate), ``scores`` and ``masks`` (largest absolute
        differences).
    """
    ref = [torch.as_tensor(r).detach() for r in ref]
    out = [torch.as_tensor(o) for o in out]
    if ref[0].shape != out[0].shape:
        raise ValueError(f'ONNX dets shape {tuple(out[0].shape)} differs '
                         f'from PyTorch {tuple(ref[0].shape)}')
    scale = ref[0][..., :4].abs().max().clamp_min(1.)
    figures = dict(
        detections=int((ref[1] >= 0).sum()),
        detections_out=int((out[1] >= 0).sum()),
        labels_equal=float((ref[1] == out[1]).float().mean()),
        boxes=float((ref[0][..., :4] - out[0][..., :4]).abs().max() / scale),
        scores=float((ref[0][..., 4] - out[0][..., 4]).abs().max()))
    if len(ref) > 2:
        figures['masks'] = float((ref[2] - out[2]).abs().max())
    return figures


def verify_detector(module: DetectorOutputs, path: str,
                    inputs: Sequence[torch.Tensor]) -> List[Dict[str, float]]:
    """:func:`compare_detections` of ONNX Runtime running ``path`` and
    ``module`` in PyTorch (eval mode) for each input batch."""
    from .onnx_export import onnx_session
    session = onnx_session(path)
    figures = []
    for x in inputs:
        with torch.no_grad():
            ref = module.eval()(x)
        figures.append(
            compare_detections(ref, session.run(None, {'input': x.numpy()})))
    return figures


def format_figures(figures: Dict[str, float]) -> str:
    """One line of :func:`compare_detections`' figures."""
    text = (f'{figures["detections"]} detections (PyTorch) / '
            f'{figures["detections_out"]} (ONNX Runtime), labels equal '
            f'{figures["labels_equal"]:.1%}, boxes max relative difference '
            f'{figures["boxes"]:.2e}, scores max difference '
            f'{figures["scores"]:.2e}')
    if 'masks' in figures:
        text += f', masks max difference {figures["masks"]:.2e}'
    return text
