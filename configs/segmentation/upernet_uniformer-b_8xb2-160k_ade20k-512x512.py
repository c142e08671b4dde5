# Global MHRA in stage 3. The official -w32 / -h32 rows test this one model
# with other windows (see the two configs that inherit this one).
_base_ = './upernet_uniformer-s_8xb2-160k_ade20k-512x512.py'

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.4,
        with_cp=[0, 0, 2, 0],  # official checkpoint_num
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_in1k.pth')))
