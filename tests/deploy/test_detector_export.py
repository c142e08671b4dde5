"""End-to-end ONNX export of the two-stage detectors: the exported wrapper
against MMDetection's own ``predict`` (the rewritten post-processing is
faithful) and ONNX Runtime against the wrapper at sizes other than the
export size."""
import os.path as osp

import pytest
import torch
from conftest import randomize_
from mmengine.config import Config

from uniformer_mm.analysis.build import build_model_from_config
from uniformer_mm.deploy import (DetectorOutputs, export_module, export_onnx,
                                 onnx_session, verify_detector)
from uniformer_mm.models.arch import ARCH_ZOO_2D

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = 'configs/detection/demo/mask-rcnn_uniformer-tiny_fpn_synthetic.py'
CASCADE = ('configs/detection/'
           'cascade-mask-rcnn_uniformer-s-h14_fpn_ms-3x_coco.py')


def _detector(cfg: Config):
    """The config's detector with MMDetection's head initialisation (spread
    but unsaturated class scores: distinct scores, so that the order of
    the detections is well defined) and random backbone, neck and RPN
    (proposals that differ from the anchors)."""
    torch.manual_seed(0)
    model, _ = build_model_from_config(cfg)
    model.init_weights()
    for part in (model.backbone, model.neck, model.rpn_head):
        randomize_(part)
    return _unsaturated_rpn(model.eval())


def _unsaturated_rpn(model):
    """Divide the RPN's objectness layer by the spread of its logits on a
    probe image. Randomized, the logits saturate the sigmoid to exactly
    1.0 for many anchors, and ONNX Runtime's NonMaxSuppression breaks such
    ties in another order than MMCV's nms: other proposals, other
    detections (seen with the test-size backbone: one box 92 px off)."""
    probe = torch.randn(
        1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    head = model.rpn_head
    with torch.no_grad():
        logits = torch.cat(
            [c.flatten() for c in head(model.extract_feat(probe))[0]])
        head.rpn_cls.weight /= logits.std()
        head.rpn_cls.bias /= logits.std()
        scores = torch.cat(
            [c.flatten() for c in head(model.extract_feat(probe))[0]])
    top = scores.sigmoid().topk(min(200, len(scores))).values
    assert (top[:-1]
            > top[1:]).all(), 'tied RPN scores: the order is undefined'
    return model


def _demo_detector():
    return _detector(Config.fromfile(osp.join(ROOT, DEMO)))


def _tiny_cascade():
    """Cascade Mask R-CNN of the zoo config (three Shared4Conv1FC stages,
    three mask heads) on a tiny backbone, 3 classes, fewer proposals."""
    cfg = Config.fromfile(osp.join(ROOT, CASCADE))
    cfg.model.backbone.update(arch='test', window_size=3, with_cp=False)
    cfg.model.neck.in_channels = ARCH_ZOO_2D['test']['embed_dims']
    for head in cfg.model.roi_head.bbox_head:
        head.num_classes = 3
    cfg.model.roi_head.mask_head.num_classes = 3
    cfg.model.test_cfg.rpn.update(nms_pre=200, max_per_img=50)
    cfg.model.test_cfg.rcnn.max_per_img = 10
    return _detector(cfg)


def _mmdet_predict(model, x):
    """``model.predict`` with the input size as every image's size."""
    from mmdet.structures import DetDataSample
    shape = tuple(x.shape[-2:])
    samples = [
        DetDataSample(
            metainfo=dict(
                img_shape=shape,
                ori_shape=shape,
                pad_shape=shape,
                batch_input_shape=shape,
                scale_factor=(1., 1.))) for _ in range(len(x))
    ]
    with torch.no_grad():
        return [s.pred_instances for s in model.predict(x, samples, False)]


def _assert_matches_predict(model, x):
    """The wrapper's detections are ``model.predict``'s, image by image:
    same count, labels, boxes and scores, and masks that paste (with
    MMDetection's own pasting) to the same binary masks."""
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import _do_paste_mask
    with torch.no_grad():
        dets, labels, masks = DetectorOutputs(model)(x)
    expected = _mmdet_predict(model, x)
    assert sum(len(e) for e in expected) > 0  # the check checks something
    thr = model.test_cfg.rcnn.mask_thr_binary
    for i, exp in enumerate(expected):
        n = len(exp)
        assert int((labels[i] >= 0).sum()) == n
        assert (labels[i, n:] == -1).all() and (dets[i, n:] == 0).all()
        assert torch.equal(labels[i, :n], exp.labels)
        torch.testing.assert_close(
            dets[i, :n, :4], exp.bboxes, atol=1e-3, rtol=1e-5)
        torch.testing.assert_close(
            dets[i, :n, 4], exp.scores, atol=1e-5, rtol=1e-5)
        pasted, _ = _do_paste_mask(masks[i, :n, None], dets[i, :n, :4],
                                   *x.shape[-2:], False)
        agree = ((pasted >= thr) == exp.masks).float().mean()
        assert agree >= 0.999, float(agree)


def test_mask_rcnn_wrapper_matches_mmdet_predict():
    _assert_matches_predict(_demo_detector(), torch.randn(2, 3, 128, 160))


def test_no_detection_fills_every_slot_empty():
    model = _demo_detector()
    model.test_cfg.rcnn.score_thr = 1.0  # no softmax score is above
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        dets, labels, masks = DetectorOutputs(model)(x)
    assert len(_mmdet_predict(model, x)[0]) == 0
    k = model.test_cfg.rcnn.max_per_img
    assert dets.shape == (1, k, 5) and masks.shape[:2] == (1, k)
    assert (labels == -1).all() and not dets.any() and not masks.any()


def test_unsupported_detector_refused():
    model = _demo_detector()
    model.roi_head = torch.nn.Identity()
    with pytest.raises(NotImplementedError, match='--backbone-only'):
        export_module(model)


def _onnx_parity(model, tmp_path, sample, inputs):
    module = export_module(model)
    assert isinstance(module, DetectorOutputs)
    path = str(tmp_path / 'det.onnx')
    names = export_onnx(module, sample, path, dynamic=True)
    assert names == ['dets', 'labels', 'masks']
    dims = onnx_session(path).get_inputs()[0].shape
    assert all(isinstance(d, str) for d in (dims[0], dims[2], dims[3]))
    figures = verify_detector(module, path, inputs)
    for fig in figures:
        assert fig['detections'] > 0
        assert fig['detections'] == fig['detections_out']
        assert fig['labels_equal'] == 1.0
        # fp32 rounding differences, grown through the heads (the cascade's
        # three stages most): relative boxes, absolute probabilities
        assert fig['boxes'] <= 1e-4
        assert fig['scores'] <= 1e-3 and fig['masks'] <= 1e-3
    print(figures)  # the figures of the README (pytest -s)
    return figures


def test_mask_rcnn_onnx_dynamic_parity(tmp_path):
    # batch and both sides differ from the export's; 96 x 160 has odd
    # feature maps at 1/32 (3 x 5)
    _onnx_parity(_demo_detector(), tmp_path, torch.randn(2, 3, 128, 128),
                 [torch.randn(1, 3, 96, 160),
                  torch.randn(2, 3, 160, 96)])


@pytest.mark.slow
def test_cascade_mask_rcnn_matches_predict_and_onnx(tmp_path):
    model = _tiny_cascade()
    _assert_matches_predict(model, torch.randn(2, 3, 128, 96))
    _onnx_parity(model, tmp_path, torch.randn(1, 3, 128, 128),
                 [torch.randn(1, 3, 96, 160),
                  torch.randn(2, 3, 160, 128)])


@pytest.mark.slow
def test_export_onnx_cli_detector_verify(tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'export_onnx', osp.join(ROOT, 'tools/deploy/export_onnx.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    out = tmp_path / 'det.onnx'
    assert cli.main([
        osp.join(ROOT, DEMO), 'none', '--out',
        str(out), '--shape', '128', '128', '--dynamic', '--verify'
    ]) == 0
    lines = [
        line for line in capsys.readouterr().out.splitlines()
        if line.startswith('verify:')
    ]
    assert len(lines) == 2 and '(1, 3, 160, 192)' in lines[1]
    for line in lines:
        counts = line.split(': ', 2)[2].split(' detections (PyTorch) / ')
        assert counts[0] == counts[1].split(' ')[0]
        assert 'labels equal 100.0%' in line
    outputs = [o.name for o in onnx_session(str(out)).get_outputs()]
    assert outputs == ['dets', 'labels', 'masks']
