# Fine-tune the COCO top-down UniFormer-S (256x192) on your own keypoint set
# in COCO-keypoints format (docs/en/finetune.md). Copy this file anywhere:
# it inherits the zoo config by package name. Any zoo pose config works as
# _base_.
_base_ = 'uniformer_mm::pose/td-hm_uniformer-s_8xb128-210e_coco-256x192.py'

# ---- the lines you edit --------------------------------------------------
# The COCO 17-keypoint definition (names, flip pairs, sigmas). For another
# keypoint set, write an MMPose dataset-info file (keypoint_info,
# skeleton_info, joint_weights, sigmas; see mmpose's
# configs/_base_/datasets/coco.py) and set
#   metainfo = dict(from_file='path/to/my_keypoints.py')
#   num_keypoints = K
# the heatmap head then gets K channels and its final layer is re-initialised
metainfo = dict(from_file='configs/_base_/datasets/coco.py')
num_keypoints = 17
# the folder holding annotations/{train,val}.json and {train,val}/*.jpg
# (tools/train.py --data-root DIR overrides it). The person crops are
# 256x192 whatever the image size: the heatmap codec of the zoo model fixes
# it (change codec input_size / heatmap_size in _base_ to change it).
data_root = 'data/my_keypoints/'
# training epochs; the warm-up and the lr steps follow
max_epochs = 210
# starting weights (docs/en/finetune.md "Starting points"): 'coco' (the
# converted official model), 'imagenet' (the backbone only) or 'scratch'
start_from = 'coco'
coco_checkpoint = \
    'checkpoints/td-hm_uniformer-s_8xb128-210e_coco-256x192_converted.pth'
imagenet_checkpoint = 'checkpoints/uniformer_small_in1k.pth'
# ---------------------------------------------------------------------------

custom_imports = dict(
    imports=[
        'uniformer_mm', 'uniformer_mm.checkpoints.safe_loading',
        'uniformer_mm.checkpoints.finetune'
    ],
    allow_failed_imports=False)

# FineTuneRunner loads load_from skipping (and logging) a final layer of
# another keypoint count
runner_type = 'FineTuneRunner'
load_from = coco_checkpoint if start_from == 'coco' else None
# the backbone's own initialisation: the ImageNet file for 'imagenet'; for
# the zoo model load_from brings it, for 'scratch' it stays random
backbone_init = None
if start_from == 'imagenet':
    backbone_init = dict(type='Pretrained', checkpoint=imagenet_checkpoint)
model = dict(
    backbone=dict(init_cfg=backbone_init),
    head=dict(out_channels=num_keypoints))

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/train.json',
        data_prefix=dict(img='train/')))
# tested on the ground-truth person boxes (no detector results file)
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/val.json',
        bbox_file=None,
        data_prefix=dict(img='val/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=max_epochs)
# tools/train.py scales warm-up and lr steps from the zoo's 210 epochs to
# max_epochs (as --scale-schedule)
scale_schedule = True
# the learning rate is the zoo's for 1024 crops per step (8 GPUs x 128):
# with fewer, train with --auto-scale-lr (lr x batch / 1024)
auto_scale_lr = dict(base_batch_size=1024)
