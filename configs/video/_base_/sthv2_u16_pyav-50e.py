# Something-Something V2, 16 frames by segment sampling, decoded with PyAV,
# 50 epochs from a Kinetics-400 16x4 model (exp/uniformer_*_sthv2_* upstream).
# Segment sampling: one frame at random in each of 16 equal segments for
# training, the middle frame of each segment for testing (UniformSample, as
# the official Sth loader). No horizontal flip at all (DATA.RANDOM_FLIP
# False): the labels name directions ("left to right"), and the official runs
# neither flip nor swap labels. Test: short side 224, three 224 crops along
# the long side x 1 clip (NUM_SPATIAL_CROPS 3).
# The SSv2 release is WebM, which records no frame count (MMAction2's
# PyAVInit reads 0 frames and the samplers fail): CheckedPyAVInit counts the
# frames of such files, and both checked transforms name unreadable files.
_base_ = ['./uniformer-s_recognizer_adamw-amp.py']

num_classes = 174
model = dict(
    backbone=dict(
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='checkpoints/uniformer_small_k400_16x4.pth')),
    cls_head=dict(num_classes=num_classes),
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
            dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)
        ])))

dataset_type = 'VideoDataset'
data_root = 'data/sthv2/videos'
ann_file_train = 'data/sthv2/sthv2_train_list_videos.txt'
ann_file_val = 'data/sthv2/sthv2_val_list_videos.txt'

train_pipeline = [
    dict(type='CheckedPyAVInit'),
    dict(type='UniformSample', clip_len=16, num_clips=1),
    dict(type='CheckedPyAVDecode'),
    dict(type='ClipRandAugment', policy='rand-m7-n4-mstd0.5-inc1'),
    dict(
        type='RandomResizedCrop',
        area_range=(0.08, 1.0),
        aspect_ratio_range=(3 / 4, 4 / 3)),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
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
    dict(type='UniformSample', clip_len=16, num_clips=1, test_mode=True),
    dict(type='CheckedPyAVDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='CheckedPyAVInit'),
    dict(type='UniformSample', clip_len=16, num_clips=1, test_mode=True),
    dict(type='CheckedPyAVDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
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
        data_prefix=dict(video=data_root),
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root),
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

optim_wrapper = dict(optimizer=dict(lr=2e-4))
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=50, val_begin=1, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 2e-4,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=45,
        eta_min=1e-6,
        by_epoch=True,
        begin=5,
        end=50,
        convert_to_iter_based=True)
]

# lr 2e-4 is for 32 clips per iteration (8 GPUs x 4)
auto_scale_lr = dict(enable=False, base_batch_size=32)
