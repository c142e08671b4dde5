# Semantic FPN with a tiny UniFormer, trained from random init on the
# synthetic ADE20K-layout shapes (uniformer_mm.datasets.synthetic
# .make_seg_dataset).
#
# Labels: 0 = background (a real class here, unlike ADE20K's ignored 0, so
# reduce_zero_label=False), 1..3 = circle, square, triangle; label value ==
# class index. The data is generated on first use by tools/demo/run_demo.py
# --task segmentation and tools/analysis/benchmark_demo.py (both read
# `synthetic_data` below), or by
#   python -m uniformer_mm.datasets.synthetic --kind seg \
#       --out data/synthetic_seg
# `data_root` is relative to the working directory (the repo root); the tools
# take --data-root to put it elsewhere. Sized for a 2-core CPU.
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    'mmseg::_base_/default_runtime.py',
]
# the package, and MMEngine loading local checkpoints weights-only (under
# any tool: mim, a codebase's own tools/train.py)
custom_imports = dict(
    imports=['uniformer_mm', 'uniformer_mm.checkpoints.safe_loading'],
    allow_failed_imports=False)

classes = ('background', 'circle', 'square', 'triangle')
palette = [(0, 0, 0), (220, 20, 60), (0, 114, 255), (60, 200, 60)]
image_size = 128
crop_size = (image_size, image_size)
data_root = 'data/synthetic_seg/'
# what the tools generate into data_root before building the dataloaders
# (arguments of uniformer_mm.datasets.make_seg_dataset)
synthetic_data = dict(
    kind='seg', num_train=400, num_val=100, image_size=image_size, seed=1)

norm_cfg = dict(type='BN', requires_grad=True)  # single process: no SyncBN
fpn_channels = 64
model = dict(
    pretrained=None,
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='UniFormer',
        arch=dict(
            depths=[1, 1, 2, 1], embed_dims=[32, 64, 128, 256], head_dim=32),
        attn_mode='global',
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=fpn_channels),
    decode_head=dict(
        in_channels=[fpn_channels] * 4,
        channels=fpn_channels,
        dropout_ratio=0.0,
        num_classes=len(classes),
        norm_cfg=norm_cfg),
    test_cfg=dict(mode='whole'))

dataset_type = 'BaseSegDataset'
metainfo = dict(classes=classes, palette=palette)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    # a no-op at the generated size
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=False,
        data_prefix=dict(
            img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=False,
        data_prefix=dict(
            img_path='images/validation',
            seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# schedule: the benchmark budget (tools/analysis/benchmark_demo.py);
# tools/demo/run_demo.py trains fewer iterations by default
max_iters = 2000
val_interval = 500
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='PolyLR',
        power=1.0,
        eta_min=1e-5,
        by_epoch=False,
        begin=50,
        end=max_iters)
]

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=max_iters,
        max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook', draw=False))
env_cfg = dict(cudnn_benchmark=False)
randomness = dict(seed=0)
# checkpoints that load weights-only and resume exactly (tools/train.py adds
# it to any config; here for scripts that build the Runner themselves)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
