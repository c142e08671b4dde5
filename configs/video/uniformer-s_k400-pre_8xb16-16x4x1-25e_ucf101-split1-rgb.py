# UniFormer-S 16x4 fine-tuned on UCF101 split 1 from the Kinetics-400 16x4
# model (exp/uniformer_s16x4_ucf101_prek400): the K400 data recipe with a
# weaker RandAugment (rand-m5-n2-mstd0.25), drop path 0.2, 8 GPUs x 16 clips,
# lr 5e-5, 25 epochs (5 warm-up); test 3 crops x 5 clips, short side 224.
_base_ = ['./_base_/kinetics400_16x4x1_pyav-110e.py']

num_classes = 101
model = dict(
    backbone=dict(
        drop_path_rate=0.2,
        init_cfg=dict(checkpoint='checkpoints/uniformer_small_k400_16x4.pth')),
    cls_head=dict(num_classes=num_classes),
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
            dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)
        ])))

data_root = 'data/ucf101/videos'
ann_file_train = 'data/ucf101/ucf101_train_split_1_videos.txt'
ann_file_val = 'data/ucf101/ucf101_val_split_1_videos.txt'

train_pipeline = _base_.train_pipeline
train_pipeline[3].update(policy='rand-m5-n2-mstd0.25')  # ClipRandAugment
test_pipeline = _base_.test_pipeline
test_pipeline[1].update(num_clips=5)
test_pipeline[4] = dict(type='ThreeCrop', crop_size=224)
train_dataloader = dict(
    batch_size=16,
    dataset=dict(
        dataset=dict(
            ann_file=ann_file_train,
            data_prefix=dict(video=data_root),
            pipeline=train_pipeline)))
val_dataloader = dict(
    dataset=dict(ann_file=ann_file_val, data_prefix=dict(video=data_root)))
test_dataloader = dict(
    dataset=dict(
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root),
        pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=5e-5))
train_cfg = dict(max_epochs=25, val_interval=1)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6 / 5e-5,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=20,
        eta_min=1e-6,
        by_epoch=True,
        begin=5,
        end=25,
        convert_to_iter_based=True)
]
auto_scale_lr = dict(base_batch_size=128)
