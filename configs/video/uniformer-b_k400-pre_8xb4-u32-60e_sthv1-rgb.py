# UniFormer-B 32 frames on Something-Something V1 from K400
# (exp/uniformer_b32_sthv1_prek400): drop path 0.6, 8 GPUs x 4 clips,
# lr 2e-4, 60 epochs (5 warm-up).
_base_ = ['./uniformer-s_k400-pre_8xb4-u32-60e_sthv1-rgb.py']

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.6,
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_k400_16x4.pth')))
