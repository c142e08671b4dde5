# UniFormer-XXS, 32 frames at 160 px (official
# exp_light/uniformer_xxs32_160_k400).
_base_ = ['../_base_/kinetics400_uniformer-xxs_u16-160px_pyav-110e.py']

model = dict(
    backbone=dict(
        arch='xxs',
        init_cfg=dict(checkpoint='checkpoints/uniformer_xxs_160_in1k.pth')))

# the sampler (index 1), RandAugment (3) and sizes of each pipeline
train_pipeline = _base_.train_pipeline
train_pipeline[1].update(clip_len=32)
val_pipeline = _base_.val_pipeline
val_pipeline[1].update(clip_len=32)
test_pipeline = val_pipeline
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
