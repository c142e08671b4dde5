_base_ = './mask-rcnn_uniformer-s-h14_fpn_ms-3x_coco.py'

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.3,
        with_cp=[0, 0, 20, 0],
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_in1k.pth')))
