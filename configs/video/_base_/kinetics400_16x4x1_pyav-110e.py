# Kinetics-400, dense 16x4x1 clips decoded with PyAV, 110 epochs: the data
# and schedule of the official K400 runs (exp/uniformer_*_k400 upstream).
# Train: RandAugment rand-m7-n4-mstd0.5-inc1, random-resized crop (area
# 0.08-1, aspect 3/4-4/3) to 224, horizontal flip, random erasing 0.25
# (per-pixel noise). Test: short side 224, one centre crop x 4 clips
# (NUM_ENSEMBLE_VIEWS 4).
_base_ = ['./uniformer-s_recognizer_adamw-amp.py']

dataset_type = 'VideoDataset'
data_root = 'data/kinetics400/videos_train'
data_root_val = 'data/kinetics400/videos_val'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'
ann_file_val = 'data/kinetics400/kinetics400_val_list_videos.txt'
ann_file_test = 'data/kinetics400/kinetics400_val_list_videos.txt'

train_pipeline = [
    dict(type='CheckedPyAVInit'),
    # the official Kinetics loader's sampling: 16 frames every 4th at 30 fps
    # (DATA.TARGET_FPS) whatever the file's rate, test clips from the first
    # to the last start (DATA.USE_OFFSET_SAMPLING)
    dict(
        type='SlowFastSampleFrames',
        clip_len=16,
        frame_interval=4,
        num_clips=1),
    dict(type='CheckedPyAVDecode'),
    # official AA_TYPE (timm policy string), one draw per clip
    dict(type='ClipRandAugment', policy='rand-m7-n4-mstd0.5-inc1'),
    dict(
        type='RandomResizedCrop',
        area_range=(0.08, 1.0),
        aspect_ratio_range=(3 / 4, 4 / 3)),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    # RE_MODE 'pixel': N(0, 1) noise after normalisation = N(mean, std) here
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        fill_color=[114.75, 114.75, 114.75],
        fill_std=[57.375, 57.375, 57.375]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='CheckedPyAVInit'),
    dict(
        type='SlowFastSampleFrames',
        clip_len=16,
        frame_interval=4,
        num_clips=1,
        test_mode=True),
    dict(type='CheckedPyAVDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='CheckedPyAVInit'),
    dict(
        type='SlowFastSampleFrames',
        clip_len=16,
        frame_interval=4,
        num_clips=4,
        test_mode=True),
    dict(type='CheckedPyAVDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]

train_dataloader = dict(
    batch_size=4,  # official TRAIN.BATCH_SIZE 32 over 8 GPUs
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    # official AUG.NUM_SAMPLE 2: each clip decoded once, augmented twice,
    # both samples in the batch (batch_size counts clips, a step sees
    # 2 x batch_size samples); the last incomplete batch is dropped as
    # officially
    drop_last=True,
    collate_fn=dict(type='repeat_pseudo_collate'),
    dataset=dict(
        type='RepeatAugVideoDataset',
        num_repeats=2,
        dataset=dict(
            type=dataset_type,
            ann_file=ann_file_train,
            data_prefix=dict(video=data_root),
            pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=8,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root_val),
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_test,
        data_prefix=dict(video=data_root_val),
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

# SOLVER: linear warm-up from 1e-6 for 10 epochs, then cosine to 1e-6
# (COSINE_AFTER_WARMUP), stepped per iteration as officially.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=110, val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 1e-4,
        by_epoch=True,
        begin=0,
        end=10,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=100,
        eta_min=1e-6,
        by_epoch=True,
        begin=10,
        end=110,
        convert_to_iter_based=True)
]

# lr 1e-4 is for 32 clips per iteration (8 GPUs x 4)
auto_scale_lr = dict(enable=False, base_batch_size=32)
