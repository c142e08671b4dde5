# UniFormer-S, top-down heatmap pose estimation on COCO at 256x192: the
# official pose_estimation/exp/top_down_256x192_global_small recipe (MMPose
# 0.x) in MMPose 1.x form. What differs from the upstream ResNet config
# (td-hm_res50_8xb64-210e_coco-256x192.py) is stated here; see README.md.
_base_ = ['mmpose::_base_/default_runtime.py']
# the package, and MMEngine loading local checkpoints weights-only (under
# any tool: mim, a codebase's own tools/train.py)
custom_imports = dict(
    imports=['uniformer_mm', 'uniformer_mm.checkpoints.safe_loading'],
    allow_failed_imports=False)

# runtime: 210 epochs, validation (and the best-AP checkpoint) every 10
train_cfg = dict(max_epochs=210, val_interval=10)
default_hooks = dict(
    checkpoint=dict(interval=10, save_best='coco/AP', rule='greater'))

# optimizer: AdamW 2e-3, weight decay 0.01 on every parameter (the official
# decay_mult=0 key, relative_position_bias_table, names no UniFormer
# parameter), no gradient clipping, fp16 with a dynamic loss scale
# (AmpOptimWrapper's default)
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.01))

# learning policy: 500-iteration linear warm-up from 0.001x, x0.1 at epochs
# 170 and 200
param_scheduler = [
    dict(
        type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(
        type='MultiStepLR',
        begin=0,
        end=210,
        milestones=[170, 200],
        gamma=0.1,
        by_epoch=True)
]

# the lr above is for 8 GPUs x 128 images
auto_scale_lr = dict(base_batch_size=1024)

# codec: MSRA Gaussian heatmaps at 1/4 of the input, sigma 2
codec = dict(
    type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    # global MHRA in stage 3; the last stage's output (stride 32, 512
    # channels, after its LayerNorm), as the official backbone returns it
    backbone=dict(
        type='UniFormer',
        arch='small',
        attn_mode='global',
        drop_path_rate=0.2,
        out_indices=(3, ),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/uniformer_small_in1k.pth')),
    # the official TopDownSimpleHead: three 4x4 deconvolutions of 256
    # channels with BatchNorm + ReLU (stride 32 -> 4), then a 1x1 conv
    head=dict(
        type='HeatmapHead',
        in_channels=512,
        out_channels=17,
        deconv_out_channels=(256, 256, 256),
        deconv_kernel_sizes=(4, 4, 4),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    # flip test with the heatmap shifted by one pixel; the decoder's
    # quarter-pixel refinement is the official post_process='default'
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))

dataset_type = 'CocoDataset'
data_mode = 'topdown'
data_root = 'data/coco/'

# the official augmentation: flip, half body (p=0.3 with > 8 visible
# joints), scale in [0.5, 1.5] and rotation up to 80 degrees with p=0.6; the
# box is never shifted (shift_prob=0: MMPose 0.x had no random shift)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(type='RandomBBoxTransform', shift_prob=0),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_train2017.json',
        data_prefix=dict(img='train2017/'),
        pipeline=train_pipeline))
# detected-box setting (the paper's numbers): the person detections of the
# official configs (detector AP 56.0 on COCO val2017; not downloaded, see
# README.md). GT-box setting: set bbox_file=None.
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/person_keypoints_val2017.json',
        bbox_file=data_root + 'person_detection_results/'
        'COCO_val2017_detections_AP_H_56_person.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader

# COCO keypoint AP with OKS NMS (threshold 0.9) and box x keypoint rescoring
# (keypoints above 0.2), the official evaluation
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/person_keypoints_val2017.json')
test_evaluator = val_evaluator
