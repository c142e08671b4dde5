# UniFormer-S 16x8 on Kinetics-600 (exp/uniformer_s16x8_k600): drop path 0.1,
# 8 GPUs x 4 clips, lr 1e-4, 110 epochs (10 warm-up).
_base_ = ['./_base_/kinetics600_16x4x1_pyav-110e.py']

# 16 frames 8 apart: the sampling step (index 1) of each pipeline
train_pipeline = _base_.train_pipeline
train_pipeline[1].update(clip_len=16, frame_interval=8)
val_pipeline = _base_.val_pipeline
val_pipeline[1].update(clip_len=16, frame_interval=8)
test_pipeline = _base_.test_pipeline
test_pipeline[1].update(clip_len=16, frame_interval=8)
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
