# UniFormer-S 32 frames on Something-Something V2 from K600
# (exp/uniformer_s32_sthv2_prek600): drop path 0.3, 8 GPUs x 4 clips,
# lr 2e-4, 50 epochs (5 warm-up).
_base_ = ['./uniformer-s_k400-pre_8xb4-u32-50e_sthv2-rgb.py']

model = dict(
    backbone=dict(
        init_cfg=dict(checkpoint='checkpoints/uniformer_small_k600_16x4.pth')))
