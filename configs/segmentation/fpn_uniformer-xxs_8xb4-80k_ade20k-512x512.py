# Hourglass UniFormer-XXS (token shrinking/recovering in stages 3-4) in the
# Semantic FPN recipe of the S model (the official exp_light run uses the
# same one), without drop path.
_base_ = './fpn_uniformer-s-h14_8xb4-80k_ade20k-512x512.py'

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
