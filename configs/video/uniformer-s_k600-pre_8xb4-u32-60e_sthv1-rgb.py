# UniFormer-S 32 frames on Something-Something V1 from K600
# (exp/uniformer_s32_sthv1_prek600): drop path 0.3, 8 GPUs x 4 clips,
# lr 2e-4, 60 epochs (5 warm-up).
_base_ = ['./uniformer-s_k400-pre_8xb4-u32-60e_sthv1-rgb.py']

model = dict(
    backbone=dict(
        drop_path_rate=0.3,
        init_cfg=dict(checkpoint='checkpoints/uniformer_small_k600_16x4.pth')))
