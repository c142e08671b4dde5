# Hourglass UniFormer-XS: the XXS recipe with drop path 0.1.
_base_ = './fpn_uniformer-xxs_8xb4-80k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        arch='xs',
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint='checkpoints/uniformer_xs_224_in1k.pth')),
    neck=dict(in_channels=[64, 128, 256, 512]))
