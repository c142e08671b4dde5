_base_ = './fpn_uniformer-s-h14_8xb4-80k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_in1k.pth')))
