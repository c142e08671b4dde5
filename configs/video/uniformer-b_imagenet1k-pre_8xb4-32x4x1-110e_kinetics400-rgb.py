# UniFormer-B 32x4 on Kinetics-400 (exp/uniformer_b32x4_k400): the S recipe
# with drop path 0.3, 8 GPUs x 4 clips, lr 1e-4.
_base_ = ['./uniformer-s_imagenet1k-pre_8xb4-32x4x1-110e_kinetics400-rgb.py']

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_in1k.pth')))
train_dataloader = dict(batch_size=4)
optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = _base_.param_scheduler  # warm-up from 1e-6
param_scheduler[0].update(start_factor=1e-6 / 1e-4)
auto_scale_lr = dict(base_batch_size=32)
