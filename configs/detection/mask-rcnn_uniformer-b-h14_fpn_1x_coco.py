_base_ = './mask-rcnn_uniformer-s-h14_fpn_1x_coco.py'

# The official B 1x run used no gradient checkpointing.
model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.3,
        with_cp=False,
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_in1k.pth')))
