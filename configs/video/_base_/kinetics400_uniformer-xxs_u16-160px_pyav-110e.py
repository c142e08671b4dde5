# Kinetics-400 recipe of the hourglass UniFormer-XXS / XS video models, here
# as the official XXS 16-frame 160 px run (video_classification/exp_light/
# uniformer_xxs16_160_k400: config.yaml + run.sh). The light configs inherit
# this one and change frames, size, augmentation, lr and arch.
# Against the UniFormer-S Kinetics recipe it keeps AdamW (no decay on norms
# and biases), mixup/cutmix, label smoothing 0.1, random erasing, gradient
# clipping at 20, 110 epochs with 10 of warm-up from 1e-6, and changes:
# * sparse sampling ("kinetics_sparse"): the video split into 16 segments, a
#   random frame from each (training) or its middle frame (test,
#   USE_OFFSET_SAMPLING), one clip and one centre crop at test time;
# * 160 px crops (random-resized, area 0.08-1) and a 160 px test short side;
# * RandAugment AA_TYPE rand-m5-n2-mstd0.25 (plain, not increasing, ops);
# * 8 GPUs x 32 clips, lr 8e-4, weight decay 0.1, drop path 0.05, gradient
#   checkpointing of the first 4 stage-3 blocks (CHECKPOINT_NUM);
# * two classifiers, on the pooled patch tokens and on the class token, with
#   the loss 0.5 * CE + 0.5 * CE (tools/run_net_cls.py -> train_net_cls.py).
_base_ = ['./kinetics400_16x4x1_pyav-110e.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='UniFormerLight3D',
        arch='xxs',
        drop_path_rate=0.05,
        with_cp=[0, 0, 4, 0],
        out_cls_token=True,  # for the class-token classifier
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/uniformer_xxs_160_in1k.pth')),
    # the official two classifiers (patch tokens, class token), trained
    # with 0.5 * CE + 0.5 * CE (tools/train_net_cls.py); tested with the
    # patch-token one
    cls_head=dict(type='UniFormerLightHead', in_channels=448))

train_pipeline = [
    dict(type='CheckedPyAVInit'),
    dict(type='UniformSample', clip_len=16, num_clips=1),
    dict(type='CheckedPyAVDecode'),
    dict(type='ClipRandAugment', policy='rand-m5-n2-mstd0.25'),
    dict(
        type='RandomResizedCrop',
        area_range=(0.08, 1.0),
        aspect_ratio_range=(3 / 4, 4 / 3)),
    dict(type='Resize', scale=(160, 160), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(
        type='RandomErasing',
        erase_prob=0.25,
        mode='rand',
        fill_color=[114.75, 114.75, 114.75],
        fill_std=[57.375, 57.375, 57.375]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
# TEST.NUM_ENSEMBLE_VIEWS 1, NUM_SPATIAL_CROPS 1: validation = test
val_pipeline = [
    dict(type='CheckedPyAVInit'),
    dict(type='UniformSample', clip_len=16, num_clips=1, test_mode=True),
    dict(type='CheckedPyAVDecode'),
    dict(type='Resize', scale=(-1, 160)),
    dict(type='CenterCrop', crop_size=160),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=32, dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(batch_size=8, dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=8e-4, weight_decay=0.1))
param_scheduler = _base_.param_scheduler  # warm-up from 1e-6
param_scheduler[0].update(start_factor=1e-6 / 8e-4)
# lr 8e-4 is for 256 clips per iteration (8 GPUs x 32)
auto_scale_lr = dict(base_batch_size=256)
