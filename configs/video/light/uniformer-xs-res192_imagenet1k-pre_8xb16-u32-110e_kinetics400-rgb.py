# UniFormer-XS, 32 frames at 192 px (official
# exp_light/uniformer_xs32_192_k400): AA_TYPE rand-m7-n4-mstd0.5-inc1, 8 GPUs x
# 16 clips, lr 4e-4, weight decay 0.05, drop path 0.1.
_base_ = ['../_base_/kinetics400_uniformer-xxs_u16-160px_pyav-110e.py']

model = dict(
    backbone=dict(
        arch='xs',
        drop_path_rate=0.1,
        init_cfg=dict(checkpoint='checkpoints/uniformer_xs_192_in1k.pth')),
    cls_head=dict(in_channels=512))

# the sampler (index 1), RandAugment (3) and sizes of each pipeline
train_pipeline = _base_.train_pipeline
train_pipeline[1].update(clip_len=32)
train_pipeline[3].update(policy='rand-m7-n4-mstd0.5-inc1')
train_pipeline[5].update(scale=(192, 192))
val_pipeline = _base_.val_pipeline
val_pipeline[1].update(clip_len=32)
val_pipeline[3].update(scale=(-1, 192))
val_pipeline[4].update(crop_size=192)
test_pipeline = val_pipeline
train_dataloader = dict(
    batch_size=16, dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=4e-4, weight_decay=0.05))
param_scheduler = _base_.param_scheduler
param_scheduler[0].update(start_factor=1e-6 / 4e-4)
auto_scale_lr = dict(base_batch_size=128)
