# UniFormer-S 16x4 on Kinetics-600 (exp/uniformer_s16x4_k600): drop path 0.1,
# 8 GPUs x 12 clips, lr 3e-4, 110 epochs (10 warm-up).
_base_ = ['./_base_/kinetics600_16x4x1_pyav-110e.py']

train_dataloader = dict(batch_size=12)
optim_wrapper = dict(optimizer=dict(lr=3e-4))
param_scheduler = _base_.param_scheduler  # warm-up from 1e-6
param_scheduler[0].update(start_factor=1e-6 / 3e-4)
auto_scale_lr = dict(base_batch_size=96)
