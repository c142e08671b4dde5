_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    './_base_/coco-instance_adamw-amp_ms-crop-3x.py',
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='UniFormer',
        arch='small',
        attn_mode='hybrid',
        window_size=14,
        drop_path_rate=0.1,
        with_cp=[0, 0, 8, 0],
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/uniformer_small_in1k.pth')),
    neck=dict(in_channels=[64, 128, 320, 512]))
