# UniFormer-XXS, 8 frames at 160 px (official
# exp_light/uniformer_xxs8_160_k400): lr 4e-4.
_base_ = ['../_base_/kinetics400_uniformer-xxs_u16-160px_pyav-110e.py']

model = dict(
    backbone=dict(
        arch='xxs',
        init_cfg=dict(checkpoint='checkpoints/uniformer_xxs_160_in1k.pth')))

# the sampler (index 1), RandAugment (3) and sizes of each pipeline
train_pipeline = _base_.train_pipeline
train_pipeline[1].update(clip_len=8)
val_pipeline = _base_.val_pipeline
val_pipeline[1].update(clip_len=8)
test_pipeline = val_pipeline
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=4e-4))
param_scheduler = _base_.param_scheduler
param_scheduler[0].update(start_factor=1e-6 / 4e-4)
