# UniFormer-S 8x8 on Kinetics-400 (exp/uniformer_s8x8_k400): drop path 0.1,
# 8 GPUs x 16 clips, lr 4e-4, 100 epochs (10 warm-up).
_base_ = ['./_base_/kinetics400_16x4x1_pyav-110e.py']

# 8 frames 8 apart: the sampling step (index 1) of each pipeline
train_pipeline = _base_.train_pipeline
train_pipeline[1].update(clip_len=8, frame_interval=8)
val_pipeline = _base_.val_pipeline
val_pipeline[1].update(clip_len=8, frame_interval=8)
test_pipeline = _base_.test_pipeline
test_pipeline[1].update(clip_len=8, frame_interval=8)
train_dataloader = dict(
    batch_size=16, dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=4e-4))
train_cfg = dict(max_epochs=100)
param_scheduler = _base_.param_scheduler  # warm-up from 1e-6
param_scheduler[0].update(start_factor=1e-6 / 4e-4)
param_scheduler[1].update(T_max=90, end=100)
auto_scale_lr = dict(base_batch_size=128)
