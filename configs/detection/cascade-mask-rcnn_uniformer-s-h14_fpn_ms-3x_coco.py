_base_ = [
    'mmdet::_base_/models/cascade-mask-rcnn_r50_fpn.py',
    './_base_/coco-instance_adamw-amp_ms-crop-3x.py',
]


def _box_head(target_stds):
    """Swin-style cascade stage: 4 shared convs (SyncBN) + 1 fc, class-aware
    regression of decoded boxes with GIoU loss."""
    return dict(
        type='Shared4Conv1FCBBoxHead',
        in_channels=256,
        conv_out_channels=256,
        fc_out_channels=1024,
        roi_feat_size=7,
        num_classes=80,
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[0., 0., 0., 0.],
            target_stds=target_stds),
        reg_class_agnostic=False,
        reg_decoded_bbox=True,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=10.0))


model = dict(
    backbone=dict(
        _delete_=True,
        type='UniFormer',
        arch='small',
        attn_mode='hybrid',
        window_size=14,
        drop_path_rate=0.2,
        with_cp=[0, 0, 8, 0],
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/uniformer_small_in1k.pth')),
    neck=dict(in_channels=[64, 128, 320, 512]),
    roi_head=dict(bbox_head=[
        _box_head([0.1, 0.1, 0.2, 0.2]),
        _box_head([0.05, 0.05, 0.1, 0.1]),
        _box_head([0.033, 0.033, 0.067, 0.067]),
    ]))
