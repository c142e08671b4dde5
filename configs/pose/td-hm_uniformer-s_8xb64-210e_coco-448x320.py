# UniFormer-S at 448x320 (official exp/top_down_448x320_global_small): 448x320
# crops, sigma-3 heatmaps of 112x80, lr 1e-3 and 8 GPUs x 64 images.
_base_ = ['./td-hm_uniformer-s_8xb128-210e_coco-256x192.py']

codec = dict(
    type='MSRAHeatmap', input_size=(320, 448), heatmap_size=(80, 112), sigma=3)
model = dict(head=dict(decoder=codec))
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(base_batch_size=512)

# the crop size (TopdownAffine) and target (GenerateTarget) of each pipeline
train_pipeline = _base_.train_pipeline
train_pipeline[5].update(input_size=codec['input_size'])
train_pipeline[6].update(encoder=codec)
val_pipeline = _base_.val_pipeline
val_pipeline[2].update(input_size=codec['input_size'])
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
