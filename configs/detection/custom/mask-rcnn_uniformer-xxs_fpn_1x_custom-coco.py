# Fine-tune Mask R-CNN UniFormer-XXS on your own COCO-format instance set
# (docs/en/finetune.md). Copy this file anywhere, e.g. next to your data: it
# inherits the zoo config by package name, not by a relative path. Any zoo
# detection config works as _base_.
_base_ = 'uniformer_mm::detection/mask-rcnn_uniformer-xxs_fpn_1x_coco.py'

# ---- the lines you edit --------------------------------------------------
# your category names, as in the json's "categories" (matched by name, any
# category ids)
classes = ('cat', 'dog', 'bird')
# the folder holding annotations/{train,val}.json and {train,val}/*.jpg;
# relative paths are relative to the folder you run the tools from
# (tools/train.py --data-root DIR overrides it)
data_root = 'data/my_coco/'
# images are resized to fit (long side, short side) keeping their aspect
# ratio; COCO's (1333, 800) upscales small images (a 256x256 image becomes
# 800x800: ~16x the compute). Use about your images' own size.
img_scale = (1333, 800)
# training epochs; the warm-up and the lr steps follow (scale_schedule below)
max_epochs = 12
# starting weights (docs/en/finetune.md "Starting points"):
#   'coco'     - the official COCO model converted by tools/convert_official.py
#                (backbone, neck, RPN; class-specific layers re-initialised)
#   'imagenet' - the official ImageNet backbone; neck and heads from scratch
#   'scratch'  - random weights
start_from = 'coco'
coco_checkpoint = \
    'checkpoints/mask-rcnn_uniformer-xxs_fpn_1x_coco_converted.pth'
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
# whose class count differs
runner_type = 'FineTuneRunner'
load_from = coco_checkpoint if start_from == 'coco' else None
# the backbone's own initialisation: the ImageNet file for 'imagenet'; for
# the zoo model load_from brings it, for 'scratch' it stays random
backbone_init = None
if start_from == 'imagenet':
    backbone_init = dict(type='Pretrained', checkpoint=imagenet_checkpoint)
model = dict(
    backbone=dict(init_cfg=backbone_init),
    roi_head=dict(
        bbox_head=dict(num_classes=len(classes)),
        mask_head=dict(num_classes=len(classes))))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/train.json',
        data_prefix=dict(img='train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=max_epochs)
# tools/train.py scales warm-up and lr steps from the zoo's 12 epochs to
# max_epochs (as --scale-schedule)
scale_schedule = True
# the learning rate is the zoo's for 16 images per step (8 GPUs x 2):
# with fewer, train with --auto-scale-lr (lr x batch / 16)
auto_scale_lr = dict(enable=False, base_batch_size=16)
