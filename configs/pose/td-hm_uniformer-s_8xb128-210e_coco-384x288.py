# UniFormer-S at 384x288: the 256x192 recipe with 384x288 crops and sigma-3
# heatmaps of 96x72 (official exp/top_down_384x288_global_small).
_base_ = ['./td-hm_uniformer-s_8xb128-210e_coco-256x192.py']

codec = dict(
    type='MSRAHeatmap', input_size=(288, 384), heatmap_size=(72, 96), sigma=3)
model = dict(head=dict(decoder=codec))

# the crop size (TopdownAffine) and target (GenerateTarget) of each pipeline
train_pipeline = _base_.train_pipeline
train_pipeline[5].update(input_size=codec['input_size'])
train_pipeline[6].update(encoder=codec)
val_pipeline = _base_.val_pipeline
val_pipeline[2].update(input_size=codec['input_size'])
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
