# Recognizer3D with a tiny UniFormer3D, trained from random init on the
# synthetic motion-direction videos (uniformer_mm.datasets.synthetic_video
# .make_video_dataset): a shape moving left / right / up / down, written as
# real .mp4 files (MPEG-4 video) and decoded with PyAV. The classes of a pair
# are the same clips played backwards, so one frame cannot tell them apart:
# the model has to use frame order.
#
# The data is generated on first use by tools/demo/run_demo.py --task video
# and tools/analysis/benchmark_demo.py (both read `synthetic_data` below), or
# by
#   python -m uniformer_mm.datasets.synthetic_video \
#       --out data/synthetic_video
# `data_root` is relative to the working directory (the repo root); the
# tools take --data-root to put it elsewhere. Sized for a 2-core CPU:
# 8-frame clips of 64x64.
_base_ = ['mmaction::_base_/default_runtime.py']
custom_imports = dict(
    # safe_loading: MMEngine loads local checkpoints weights-only, under any
    # tool (importing uniformer_mm registers the models and transforms)
    imports=['uniformer_mm', 'uniformer_mm.checkpoints.safe_loading'],
    allow_failed_imports=False)

classes = ('left', 'right', 'up', 'down')
image_size = 64
num_frames = 16  # per generated video
clip_len = 8
frame_interval = 2  # 8 frames spanning the whole 16-frame video
data_root = 'data/synthetic_video/'
# what the tools generate into data_root before building the dataloaders
# (arguments of uniformer_mm.datasets.synthetic_video.make_video_dataset)
synthetic_data = dict(
    kind='video',
    num_train=800,
    num_val=200,
    num_frames=num_frames,
    image_size=image_size,
    seed=2)

model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='UniFormer3D',
        arch=dict(
            depths=[1, 1, 2, 1], embed_dims=[32, 64, 128, 256], head_dim=32),
        drop_path_rate=0.0,
        init_cfg=None),
    cls_head=dict(
        type='I3DHead',
        in_channels=256,
        num_classes=len(classes),
        spatial_type='avg',
        dropout_ratio=0.0,
        init_std=0.02,
        average_clips='prob'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[114.75, 114.75, 114.75],
        std=[57.375, 57.375, 57.375],
        format_shape='NCTHW'))

dataset_type = 'VideoDataset'
metainfo = dict(classes=classes)
# A clip shorter than clip_len * frame_interval repeats its last frame
# ('repeat_last'): with 'loop' the shape would jump back to its start and
# seem to move the other way. Unreadable videos are skipped with a warning
# in training and are an error in val/test (uniformer_mm.datasets.transforms).
# No Flip: mirroring a clip changes its label.
train_pipeline = [
    dict(type='CheckedPyAVInit', on_error='skip'),
    dict(
        type='SampleFrames',
        clip_len=clip_len,
        frame_interval=frame_interval,
        num_clips=1,
        temporal_jitter=True,
        out_of_bound_opt='repeat_last'),
    dict(type='CheckedPyAVDecode', on_error='skip'),
    dict(type='RandomResizedCrop', area_range=(0.5, 1.0)),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='CheckedPyAVInit', on_error='raise'),
    dict(
        type='SampleFrames',
        clip_len=clip_len,
        frame_interval=frame_interval,
        num_clips=1,
        out_of_bound_opt='repeat_last',
        test_mode=True),
    dict(type='CheckedPyAVDecode', on_error='raise'),
    # no-ops at the generated size
    dict(type='Resize', scale=(-1, image_size)),
    dict(type='CenterCrop', crop_size=image_size),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = val_pipeline
train_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='train_list.txt',
        # list paths are relative to data_root
        data_prefix=dict(video=''),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='val_list.txt',
        data_prefix=dict(video=''),
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='AccMetric',
    metric_list=('top_k_accuracy', 'mean_class_accuracy'),
    # 4 classes: top-5 would always be 1
    metric_options=dict(top_k_accuracy=dict(topk=(1, ))))
test_evaluator = val_evaluator

# schedule: the benchmark budget (tools/analysis/benchmark_demo.py);
# tools/demo/run_demo.py trains fewer iterations by default
max_iters = 400
val_interval = 100
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
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=50,
        end=max_iters,
        eta_min=1e-5)
]
auto_scale_lr = dict(enable=False, base_batch_size=16)

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
# it to any config; here for scripts that build the Runner themselves)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
