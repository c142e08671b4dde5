# Something-Something V1: the V2 recipe on JPEG frames (the V1 release has no
# videos; CheckedRawFrameDecode: RawFrameDecode naming an unreadable
# frame), 60 epochs (exp/uniformer_*_sthv1_* upstream).
_base_ = ['./sthv2_u16_pyav-50e.py']

model = dict(backbone=dict(drop_path_rate=0.2))

dataset_type = 'RawframeDataset'
data_root = 'data/sthv1/rawframes'
ann_file_train = 'data/sthv1/sthv1_train_list_rawframes.txt'
ann_file_val = 'data/sthv1/sthv1_val_list_rawframes.txt'

# the V2 pipelines without the video container: step 0 samples, step 1 reads
train_pipeline = [
    dict(type='UniformSample', clip_len=16, num_clips=1),
    dict(type='CheckedRawFrameDecode')
] + _base_.train_pipeline[3:]
val_pipeline = [
    dict(type='UniformSample', clip_len=16, num_clips=1, test_mode=True),
    dict(type='CheckedRawFrameDecode')
] + _base_.val_pipeline[3:]
test_pipeline = [
    dict(type='UniformSample', clip_len=16, num_clips=1, test_mode=True),
    dict(type='CheckedRawFrameDecode')
] + _base_.test_pipeline[3:]

# the 20BN frames are 00001.jpg, 00002.jpg, ...
train_dataloader = dict(
    dataset=dict(
        dataset=dict(
            type=dataset_type,
            ann_file=ann_file_train,
            data_prefix=dict(_delete_=True, img=data_root),
            filename_tmpl='{:05d}.jpg',
            pipeline=train_pipeline)))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(_delete_=True, img=data_root),
        filename_tmpl='{:05d}.jpg',
        pipeline=val_pipeline))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(_delete_=True, img=data_root),
        filename_tmpl='{:05d}.jpg',
        pipeline=test_pipeline))

train_cfg = dict(max_epochs=60)
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
        T_max=55,
        eta_min=1e-6,
        by_epoch=True,
        begin=5,
        end=60,
        convert_to_iter_based=True)
]
