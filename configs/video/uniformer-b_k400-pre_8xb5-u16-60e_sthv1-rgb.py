# UniFormer-B 16 frames on Something-Something V1 from K400
# (exp/uniformer_b16_sthv1_prek400): drop path 0.6, 8 GPUs x 5 clips,
# lr 2.5e-4, 60 epochs (5 warm-up).
_base_ = ['./_base_/sthv1_u16_rawframes-60e.py']

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.6,
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_k400_16x4.pth')))
train_dataloader = dict(batch_size=5)
optim_wrapper = dict(optimizer=dict(lr=2.5e-4))
param_scheduler = _base_.param_scheduler  # warm-up from 1e-6
param_scheduler[0].update(start_factor=1e-6 / 2.5e-4)
auto_scale_lr = dict(base_batch_size=40)
