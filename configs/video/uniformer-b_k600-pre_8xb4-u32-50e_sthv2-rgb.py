# UniFormer-B 32 frames on Something-Something V2 from K600
# (exp/uniformer_b32_sthv2_prek600): drop path 0.5, 8 GPUs x 4 clips,
# lr 2e-4, 50 epochs (5 warm-up).
_base_ = ['./uniformer-b_k400-pre_8xb4-u32-50e_sthv2-rgb.py']

model = dict(
    backbone=dict(
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_k600_16x4.pth')))
