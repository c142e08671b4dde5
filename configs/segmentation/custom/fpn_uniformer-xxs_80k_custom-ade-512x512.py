# Fine-tune the ADE20K Semantic FPN UniFormer-XXS on your own ADE-style
# segmentation set with K classes (docs/en/finetune.md). Copy this file
# anywhere: it inherits the zoo config by package name. Any zoo
# segmentation config works as _base_.
_base_ = 'uniformer_mm::segmentation/fpn_uniformer-xxs_8xb4-80k_ade20k-512x512.py'  # noqa: E501

# ---- the lines you edit --------------------------------------------------
# your class names; label maps hold 1..K for them and 0 for "other"
# (ignored: reduce_zero_label), as ADE20K's
classes = ('road', 'building', 'vegetation', 'sky', 'car')
# the folder holding images/{training,validation}/*.jpg and
# annotations/{training,validation}/*.png (tools/train.py --data-root DIR
# overrides it)
data_root = 'data/my_seg'
# images are rescaled to fit img_scale (keeping their aspect ratio; random
# 0.5-2x in training) and cropped to crop_size for training: ADE20K's
# (2048, 512) and 512x512 upscale small images
img_scale = (2048, 512)
crop_size = (512, 512)
# training iterations; the warm-up and the cosine decay follow
max_iters = 80000
# starting weights (docs/en/finetune.md "Starting points"): 'ade20k' (the
# converted official model), 'imagenet' (the backbone only) or 'scratch'
start_from = 'ade20k'
ade20k_checkpoint = \
    'checkpoints/fpn_uniformer-xxs_8xb4-80k_ade20k-512x512_converted.pth'
imagenet_checkpoint = 'checkpoints/uniformer_xxs_224_in1k.pth'
# ---------------------------------------------------------------------------

custom_imports = dict(
    imports=[
        'uniformer_mm', 'uniformer_mm.checkpoints.safe_loading',
        'uniformer_mm.checkpoints.finetune'
    ],
    allow_failed_imports=False)

metainfo = dict(classes=classes)
# FineTuneRunner loads load_from skipping (and logging) only the tensors
# whose class count differs (conv_seg)
runner_type = 'FineTuneRunner'
load_from = ade20k_checkpoint if start_from == 'ade20k' else None
# the backbone's own initialisation: the ImageNet file for 'imagenet'; for
# the zoo model load_from brings it, for 'scratch' it stays random
backbone_init = None
if start_from == 'imagenet':
    backbone_init = dict(type='Pretrained', checkpoint=imagenet_checkpoint)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(init_cfg=backbone_init),
    decode_head=dict(num_classes=len(classes)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(
        type='RandomResize',
        scale=img_scale,
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    dict(type='LoadAnnotations', reduce_zero_label=True),
    dict(type='PackSegInputs'),
]
train_dataloader = dict(
    dataset=dict(
        type='BaseSegDataset',
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        data_prefix=dict(
            img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type='BaseSegDataset',
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        data_prefix=dict(
            img_path='images/validation',
            seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=max_iters)
# tools/train.py scales warm-up and decay from the zoo's 80k iterations to
# max_iters (as --scale-schedule)
scale_schedule = True
# the learning rate is the zoo's for 32 images per step (8 GPUs x 4):
# with fewer, train with --auto-scale-lr (lr x batch / 32)
auto_scale_lr = dict(enable=False, base_batch_size=32)
