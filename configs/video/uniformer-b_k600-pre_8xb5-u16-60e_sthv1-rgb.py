# UniFormer-B 16 frames on Something-Something V1 from K600
# (exp/uniformer_b16_sthv1_prek600): drop path 0.5, 8 GPUs x 5 clips,
# lr 2.5e-4, 60 epochs (5 warm-up).
_base_ = ['./uniformer-b_k400-pre_8xb5-u16-60e_sthv1-rgb.py']

model = dict(
    backbone=dict(
        drop_path_rate=0.5,
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_k600_16x4.pth')))
