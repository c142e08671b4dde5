# Top-down heatmap pose estimation with a tiny UniFormer, trained from random
# init on the synthetic COCO-keypoints figures
# (uniformer_mm.datasets.synthetic_pose.make_coco_keypoints).
#
# The data is generated on first use by tools/demo/run_demo.py and
# tools/analysis/benchmark_demo.py (both read `synthetic_data` below), or by
#   python -m uniformer_mm.datasets.synthetic_pose --out data/synthetic_pose
# `data_root` is relative to the working directory (the repo root); the tools
# take --data-root to put it elsewhere.
#
# The zoo recipe (configs/pose/td-hm_uniformer-*.py) sized for a 2-core CPU:
# 128x96 crops (32x24 heatmaps), the last stage only (stride 32), a head of
# three 64-channel deconvolutions instead of 256, the GT boxes of the val
# split. The 17 keypoints are COCO's, so MMPose's COCO metainfo (flip pairs,
# OKS sigmas) and CocoMetric apply unchanged.
_base_ = ['mmpose::_base_/default_runtime.py']
# the package, and MMEngine loading local checkpoints weights-only (under
# any tool: mim, a codebase's own tools/train.py)
custom_imports = dict(
    imports=['uniformer_mm', 'uniformer_mm.checkpoints.safe_loading'],
    allow_failed_imports=False)

image_size = 128
data_root = 'data/synthetic_pose/'
# what the tools generate into data_root before building the dataloaders
# (arguments of uniformer_mm.datasets.make_coco_keypoints)
synthetic_data = dict(
    kind='coco_keypoints',
    num_train=1000,
    num_val=100,
    image_size=image_size,
    seed=0)

codec = dict(
    type='MSRAHeatmap', input_size=(96, 128), heatmap_size=(24, 32), sigma=2)

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='UniFormer',
        arch=dict(
            depths=[1, 1, 2, 1], embed_dims=[32, 64, 128, 256], head_dim=32),
        attn_mode='global',
        drop_path_rate=0.0,
        out_indices=(3, ),
        init_cfg=None),
    head=dict(
        type='HeatmapHead',
        in_channels=256,
        out_channels=17,
        deconv_out_channels=(64, 64, 64),
        deconv_kernel_sizes=(4, 4, 4),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

dataset_type = 'CocoDataset'
data_mode = 'topdown'
backend_args = None
train_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', shift_prob=0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage', backend_args=backend_args),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_train.json',
        data_prefix=dict(img='images/train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=1,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_val.json',
        data_prefix=dict(img='images/val/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
# COCO keypoint AP (OKS, the COCO sigmas) through xtcocotools
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/person_keypoints_val.json')
test_evaluator = val_evaluator

# schedule: the benchmark budget (tools/analysis/benchmark_demo.py);
# tools/demo/run_demo.py trains fewer iterations by default
max_iters = 600
val_interval = 150
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=val_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.01),
    clip_grad=dict(max_norm=10.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=50,
        end=max_iters,
        eta_min=1e-5)
]
auto_scale_lr = dict(enable=False, base_batch_size=32)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=max_iters,
        max_keep_ckpts=1))
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
randomness = dict(seed=0)
# checkpoints that load weights-only and resume exactly (tools/train.py adds
# it to any config; here for scripts that build the Runner themselves). The
# base's SyncBuffersHook only matters for distributed BatchNorm buffers.
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
# MMPose 1.3's OpenCV drawing calls int() on 1-element arrays, which numpy
# >= 2.3 refuses; the matplotlib backend draws the same (MMPoseInferencer,
# tools/demo/pose_demo.py)
visualizer = dict(backend='matplotlib')
