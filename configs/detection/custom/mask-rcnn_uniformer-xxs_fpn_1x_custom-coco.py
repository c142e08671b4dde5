# Fine-tune the COCO Mask R-CNN UniFormer-XXS on your own COCO-format
# instance set with K classes (README "Fine-tuning on your own data").
# Any zoo detection config works as _base_; only the lines below differ.
_base_ = '../mask-rcnn_uniformer-xxs_fpn_1x_coco.py'
custom_imports = dict(
    imports=[
        'uniformer_mm', 'uniformer_mm.checkpoints.safe_loading',
        'uniformer_mm.checkpoints.finetune'
    ],
    allow_failed_imports=False)

# your category names, as in the json's "categories" (matched by name)
classes = ('cat', 'dog', 'bird')
metainfo = dict(classes=classes)
data_root = 'data/my_coco/'

# the converted official COCO model (80 classes): backbone, neck and RPN
# load; the K-class box classifier, box regressor and mask logits are
# skipped, each logged, and keep their initialisation
load_from = 'checkpoints/mask-rcnn_uniformer-xxs_fpn_1x_coco_converted.pth'
runner_type = 'FineTuneRunner'

model = dict(
    backbone=dict(init_cfg=None),  # load_from brings the backbone
    roi_head=dict(
        bbox_head=dict(num_classes=len(classes)),
        mask_head=dict(num_classes=len(classes))))

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/train.json',
        data_prefix=dict(img='train/')))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/val.json',
        data_prefix=dict(img='val/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator

# the learning rate is the zoo's for 16 images per step (8 GPUs x 2):
# with fewer, train with --auto-scale-lr (lr x batch / 16)
auto_scale_lr = dict(enable=False, base_batch_size=16)
