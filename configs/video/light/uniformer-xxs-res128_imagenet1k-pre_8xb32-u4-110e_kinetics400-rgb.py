# UniFormer-XXS, 4 frames at 128 px (official
# exp_light/uniformer_xxs4_128_k400): layer scale in every block (initialised
# to 0.1), AA_TYPE 'rand' (magnitude 10, 2 ops), lr 4e-4.
_base_ = ['../_base_/kinetics400_uniformer-xxs_u16-160px_pyav-110e.py']

model = dict(
    backbone=dict(
        arch='xxs-ls',
        layer_scale_init_value=0.1,
        init_cfg=dict(checkpoint='checkpoints/uniformer_xxs_128_in1k.pth')))

# the sampler (index 1), RandAugment (3) and sizes of each pipeline
train_pipeline = _base_.train_pipeline
train_pipeline[1].update(clip_len=4)
train_pipeline[3].update(policy='rand')  # m10, n2
train_pipeline[5].update(scale=(128, 128))
val_pipeline = _base_.val_pipeline
val_pipeline[1].update(clip_len=4)
val_pipeline[3].update(scale=(-1, 128))
val_pipeline[4].update(crop_size=128)
test_pipeline = val_pipeline
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=4e-4))
param_scheduler = _base_.param_scheduler
param_scheduler[0].update(start_factor=1e-6 / 4e-4)
