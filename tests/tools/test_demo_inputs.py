"""The drawing and ground-truth helpers the inference demos share."""
import cv2
import numpy as np
from mmengine.structures import InstanceData

from uniformer_mm.apis.inputs import coco_boxes_xyxy, draw_sample


class _Recorder:
    """Stands in for a visualizer: keeps what add_datasample got."""

    def add_datasample(self, name, image, sample, **kwargs):
        self.call = dict(name=name, image=image, sample=sample, **kwargs)


def test_draw_sample_upscales_and_draws_gt_only_when_present(tmp_path):
    from mmdet.structures import DetDataSample
    path = str(tmp_path / 'a.png')
    cv2.imwrite(path, np.zeros((48, 64, 3), np.uint8))
    scales = []

    def build(scale, with_gt):
        scales.append(scale)
        sample = DetDataSample(pred_instances=InstanceData())
        if with_gt:
            sample.gt_instances = InstanceData()
        return sample

    vis = _Recorder()
    for with_gt in (False, True):
        draw_sample(
            vis,
            path,
            'auto',
            'out.png',
            lambda s: build(s, with_gt),
            pred_score_thr=0.5)
        # auto: short side 48 * 8 >= 384
        assert vis.call['image'].shape == (48 * 8, 64 * 8, 3)
        assert vis.call['draw_gt'] is with_gt
        assert vis.call['pred_score_thr'] == 0.5
        assert vis.call['name'] == 'a.png'
    assert scales == [8, 8]
    draw_sample(vis, path, 2, 'out.png', lambda s: build(s, False))
    assert vis.call['image'].shape == (96, 128, 3)


def test_coco_boxes_xyxy():
    anns = [dict(bbox=[1, 2, 10, 20]), dict(bbox=[0.5, 0, 3, 4])]
    assert coco_boxes_xyxy(anns).tolist() == [[1, 2, 11, 22], [0.5, 0, 3.5, 4]]
    assert coco_boxes_xyxy([]).shape == (0, 4)
