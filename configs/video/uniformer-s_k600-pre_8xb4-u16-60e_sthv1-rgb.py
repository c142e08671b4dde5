# UniFormer-S 16 frames on Something-Something V1 from K600
# (exp/uniformer_s16_sthv1_prek600): drop path 0.2, 8 GPUs x 4 clips,
# lr 2e-4, 60 epochs (5 warm-up).
_base_ = ['./_base_/sthv1_u16_rawframes-60e.py']

model = dict(
    backbone=dict(
        init_cfg=dict(checkpoint='checkpoints/uniformer_small_k600_16x4.pth')))
