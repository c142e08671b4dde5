# UniFormer-XXS, 8 frames at 128 px (official
# exp_light/uniformer_xxs8_128_k400): the 4-frame recipe (layer scale in every
# block initialised to 0.1, AA_TYPE 'rand' magnitude 10, 2 ops, lr 4e-4) with
# 8 frames.
_base_ = [
    './uniformer-xxs-res128_imagenet1k-pre_8xb32-u4-110e_kinetics400-rgb.py'
]

# the sampler (index 1) of each pipeline
train_pipeline = _base_.train_pipeline
train_pipeline[1].update(clip_len=8)
val_pipeline = _base_.val_pipeline
val_pipeline[1].update(clip_len=8)
test_pipeline = val_pipeline
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
