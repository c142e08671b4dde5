# UniFormer-S 16x4 on Kinetics-400 (official exp/uniformer_s16x4_k400):
# drop path 0.1, 8 GPUs x 4 clips, lr 1e-4, 110 epochs (10 warm-up).
_base_ = ['./_base_/kinetics400_16x4x1_pyav-110e.py']
