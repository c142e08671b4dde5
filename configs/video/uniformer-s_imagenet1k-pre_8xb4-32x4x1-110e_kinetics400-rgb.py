# UniFormer-S 32x4 on Kinetics-400 (exp/uniformer_s32x4_k400): the 16x4
# recipe with 32 frames 4 apart.
_base_ = ['./uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_kinetics400-rgb.py']

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
