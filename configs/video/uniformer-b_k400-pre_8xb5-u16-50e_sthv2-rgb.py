# UniFormer-B 16 frames on Something-Something V2 from K400
# (exp/uniformer_b16_sthv2_prek400): drop path 0.4, 8 GPUs x 5 clips,
# lr 2.5e-4, 50 epochs (5 warm-up).
_base_ = ['./_base_/sthv2_u16_pyav-50e.py']

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_k400_16x4.pth')))
train_dataloader = dict(batch_size=5)
optim_wrapper = dict(optimizer=dict(lr=2.5e-4))
param_scheduler = _base_.param_scheduler  # warm-up from 1e-6
param_scheduler[0].update(start_factor=1e-6 / 2.5e-4)
auto_scale_lr = dict(base_batch_size=40)
