# UniFormer-S 32 frames on Something-Something V2 from K400
# (exp/uniformer_s32_sthv2_prek400): drop path 0.3, 8 GPUs x 4 clips,
# lr 2e-4, 50 epochs (5 warm-up).
_base_ = ['./_base_/sthv2_u16_pyav-50e.py']

# 32 segments: the sampling step (index 1) of each pipeline
train_pipeline = _base_.train_pipeline
train_pipeline[1].update(clip_len=32)
val_pipeline = _base_.val_pipeline
val_pipeline[1].update(clip_len=32)
test_pipeline = _base_.test_pipeline
test_pipeline[1].update(clip_len=32)
train_dataloader = dict(dataset=dict(dataset=dict(pipeline=train_pipeline)))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
