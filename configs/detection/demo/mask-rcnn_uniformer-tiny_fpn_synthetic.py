# Mask R-CNN with a tiny UniFormer, trained from random init on the synthetic
# COCO-format shapes (uniformer_mm.datasets.synthetic.make_coco_instances).
#
# The data is generated on first use by tools/demo/run_demo.py and
# tools/analysis/benchmark_demo.py (both read `synthetic_data` below), or by
#   python -m uniformer_mm.datasets.synthetic --kind coco \
#       --out data/synthetic_coco
# `data_root` is relative to the working directory (the repo root); the tools
# take --data-root to put it elsewhere.
#
# Everything is sized for a 2-core CPU: 128x128 images, 64-channel FPN and
# heads, few proposals and RoI samples, square anchors only (the shapes'
# boxes are nearly square).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/default_runtime.py',
]
# the package, and MMEngine loading local checkpoints weights-only (under
# any tool: mim, a codebase's own tools/train.py)
custom_imports = dict(
    imports=['uniformer_mm', 'uniformer_mm.checkpoints.safe_loading'],
    allow_failed_imports=False)

classes = ('circle', 'square', 'triangle')
palette = [(220, 20, 60), (0, 114, 255), (60, 200, 60)]
image_size = 128
data_root = 'data/synthetic_coco/'
# what the tools generate into data_root before building the dataloaders
# (arguments of uniformer_mm.datasets.make_coco_instances)
synthetic_data = dict(
    kind='coco', num_train=600, num_val=100, image_size=image_size, seed=0)

fpn_channels = 64
model = dict(
    data_preprocessor=dict(pad_size_divisor=32),
    backbone=dict(
        _delete_=True,
        type='UniFormer',
        arch=dict(
            depths=[1, 1, 2, 1], embed_dims=[32, 64, 128, 256], head_dim=32),
        attn_mode='global',
        drop_path_rate=0.0,
        out_indices=(0, 1, 2, 3),
        init_cfg=None),
    neck=dict(
        in_channels=[32, 64, 128, 256], out_channels=fpn_channels, num_outs=5),
    rpn_head=dict(
        in_channels=fpn_channels,
        feat_channels=fpn_channels,
        # anchors of 16, 32, ... 256 px at strides 4 ... 64
        anchor_generator=dict(scales=[4], ratios=[1.0])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=fpn_channels, finest_scale=56),
        bbox_head=dict(
            in_channels=fpn_channels,
            fc_out_channels=256,
            num_classes=len(classes)),
        mask_roi_extractor=dict(out_channels=fpn_channels),
        mask_head=dict(
            num_convs=2,
            in_channels=fpn_channels,
            conv_out_channels=fpn_channels,
            num_classes=len(classes))),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=500, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(
        rpn=dict(nms_pre=300, max_per_img=100), rcnn=dict(max_per_img=20)))

dataset_type = 'CocoDataset'
metainfo = dict(classes=classes, palette=palette)
backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    # a no-op at the generated size; sets scale_factor for any other size
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    batch_sampler=None,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='images/train/'),
        # keep the images without shapes: they must train too
        filter_cfg=dict(filter_empty_gt=False),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='images/val/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/instances_val.json',
    metric=['bbox', 'segm'],
    format_only=False,
    backend_args=backend_args)
test_evaluator = val_evaluator

# schedule: the benchmark budget (tools/analysis/benchmark_demo.py);
# tools/demo/run_demo.py trains fewer iterations by default
max_iters = 800
val_interval = 200
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=10.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=100,
        end=max_iters,
        eta_min=1e-5)
]
auto_scale_lr = dict(enable=False, base_batch_size=8)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=max_iters,
        max_keep_ckpts=1),
    visualization=dict(type='DetVisualizationHook', draw=False))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
randomness = dict(seed=0)
# checkpoints that load weights-only and resume exactly (tools/train.py adds
# it to any config; here for scripts that build the Runner themselves)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
