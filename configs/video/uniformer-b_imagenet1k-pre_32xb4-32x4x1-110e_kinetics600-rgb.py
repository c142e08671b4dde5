# UniFormer-B 32x4 on Kinetics-600 (exp/uniformer_b32x4_k600): trained on 4
# nodes x 8 GPUs x 4 clips; SOLVER.BASE_LR_SCALE_NUM_SHARDS multiplied lr
# 1e-4, the warm-up start and the final lr by the 4 nodes. Drop path 0.3.
_base_ = ['./_base_/kinetics600_16x4x1_pyav-110e.py']

# 32 frames 4 apart: the sampling step (index 1) of each pipeline
train_pipeline = _base_.train_pipeline
train_pipeline[1].update(clip_len=32, frame_interval=4)
val_pipeline = _base_.val_pipeline
val_pipeline[1].update(clip_len=32, frame_interval=4)
test_pipeline = _base_.test_pipeline
test_pipeline[1].update(clip_len=32, frame_interval=4)
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_in1k.pth')))
optim_wrapper = dict(optimizer=dict(lr=4e-4))
param_scheduler = _base_.param_scheduler  # warm-up from 4e-6 to 4e-6
param_scheduler[0].update(start_factor=4e-6 / 4e-4)
param_scheduler[1].update(eta_min=4e-6)
auto_scale_lr = dict(base_batch_size=128)
