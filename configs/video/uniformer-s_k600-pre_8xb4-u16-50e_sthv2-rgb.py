# UniFormer-S 16 frames on Something-Something V2 from K600
# (exp/uniformer_s16_sthv2_prek600): drop path 0.3, 8 GPUs x 4 clips,
# lr 2e-4, 50 epochs (5 warm-up).
_base_ = ['./_base_/sthv2_u16_pyav-50e.py']

model = dict(
    backbone=dict(
        init_cfg=dict(checkpoint='checkpoints/uniformer_small_k600_16x4.pth')))
