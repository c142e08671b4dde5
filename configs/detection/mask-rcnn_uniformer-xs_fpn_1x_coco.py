# Hourglass UniFormer-XS: the XXS recipe with drop path 0.15.
_base_ = './mask-rcnn_uniformer-xxs_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        arch='xs',
        drop_path_rate=0.15,
        init_cfg=dict(checkpoint='checkpoints/uniformer_xs_224_in1k.pth')),
    neck=dict(in_channels=[64, 128, 256, 512]))
