# UniFormer-B 16x4 on Kinetics-600 (exp/uniformer_b16x4_k600): drop path 0.3,
# 8 GPUs x 5 clips, lr 1.25e-4.
_base_ = ['./uniformer-s_imagenet1k-pre_8xb12-16x4x1-110e_kinetics600-rgb.py']

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_in1k.pth')))
train_dataloader = dict(batch_size=5)
optim_wrapper = dict(optimizer=dict(lr=1.25e-4))
param_scheduler = _base_.param_scheduler  # warm-up from 1e-6
param_scheduler[0].update(start_factor=1e-6 / 1.25e-4)
auto_scale_lr = dict(base_batch_size=40)
