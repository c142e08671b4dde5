# UniFormer-B at 256x192: the S recipe with the B backbone and drop path 0.4
# (official exp/top_down_256x192_global_base).
_base_ = ['./td-hm_uniformer-s_8xb128-210e_coco-256x192.py']

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.4,
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_in1k.pth')))
