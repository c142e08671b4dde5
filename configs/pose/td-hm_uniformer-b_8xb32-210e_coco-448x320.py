# UniFormer-B at 448x320 (official exp/top_down_448x320_global_base): the S
# 448x320 recipe with the B backbone, drop path 0.55, lr 5e-4 and 8 GPUs x
# 32 images.
_base_ = ['./td-hm_uniformer-s_8xb64-210e_coco-448x320.py']

model = dict(
    backbone=dict(
        arch='base',
        drop_path_rate=0.55,
        init_cfg=dict(checkpoint='checkpoints/uniformer_base_in1k.pth')))
optim_wrapper = dict(optimizer=dict(lr=5e-4))
auto_scale_lr = dict(base_batch_size=256)
train_dataloader = dict(batch_size=32)
