# Semantic FPN on ADE20K, the PVT recipe as the official UniFormer code runs
# it: 8 GPUs x 4 images, AdamW lr 2e-4 (the PVT lr x 2 for twice the GPUs),
# weight decay 1e-4, 80k iterations, cosine decay with a 1k linear warm-up
# from 0.1x.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
]
# the package, and MMEngine loading local checkpoints weights-only (under
# any tool: mim, a codebase's own tools/train.py)
custom_imports = dict(
    imports=['uniformer_mm', 'uniformer_mm.checkpoints.safe_loading'],
    allow_failed_imports=False)

crop_size = (512, 512)
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='UniFormer',
        arch='small',
        attn_mode='hybrid',  # stage 3: windows of 14, blocks 4 and 8 global
        window_size=14,
        drop_path_rate=0.1,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/uniformer_small_in1k.pth')),
    neck=dict(in_channels=[64, 128, 320, 512]),
    decode_head=dict(num_classes=150))

# The official test resizes the (2048, 512)-rescaled image once more, up to a
# multiple of 32 (PVT's AlignResize = ResizeToMultiple).
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(batch_size=4)
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, weight_decay=1e-4))
# Both from iteration 0: the warm-up factor multiplies the cosine curve, as
# mmcv's warm-up did in the official run.
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=1000),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=1e-8,
        by_epoch=False,
        begin=0,
        end=80000),
]
