# UniFormer-B at 384x288 (official exp/top_down_384x288_global_base): the S
# 384x288 recipe with the B backbone, drop path 0.5, lr 5e-4 and 8 GPUs x 32
# images.
_base_ = ['./td-hm_uniformer-s_8xb128-210e_coco-384x288.py']

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.5,
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_in1k.pth')))
optim_wrapper = dict(optimizer=dict(lr=5e-4))
auto_scale_lr = dict(base_batch_size=256)
train_dataloader = dict(batch_size=32)
