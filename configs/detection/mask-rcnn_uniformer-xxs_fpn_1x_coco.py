# Hourglass UniFormer-XXS (token shrinking/recovering in stages 3-4) in the
# Mask R-CNN 1x recipe of the S model, as the official exp_light run: no
# gradient checkpointing, no drop path and full fp32 (the official config
# turns fp16 off for the light models).
_base_ = './mask-rcnn_uniformer-s-h14_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        _delete_=True,
        type='UniFormerLight',
        arch='xxs',
        drop_path_rate=0.,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/uniformer_xxs_224_in1k.pth')),
    neck=dict(in_channels=[56, 112, 224, 448]))

optim_wrapper = dict(type='OptimWrapper')
