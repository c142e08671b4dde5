# Fine-tune the COCO top-down UniFormer-S (256x192) on your own keypoint set
# in COCO-keypoints format (README "Fine-tuning on your own data").
# Any zoo pose config works as _base_; only the lines below differ.
_base_ = '../td-hm_uniformer-s_8xb128-210e_coco-256x192.py'
custom_imports = dict(
    imports=[
        'uniformer_mm', 'uniformer_mm.checkpoints.safe_loading',
        'uniformer_mm.checkpoints.finetune'
    ],
    allow_failed_imports=False)

# The COCO 17-keypoint definition (names, flip pairs, sigmas). For another
# keypoint set, write an MMPose dataset-info file (keypoint_info,
# skeleton_info, joint_weights, sigmas; see mmpose's
# configs/_base_/datasets/coco.py) and set
#   metainfo = dict(from_file='path/to/my_keypoints.py')
#   num_keypoints = K
# the heatmap head then gets K channels and its final layer is re-initialised
metainfo = dict(from_file='configs/_base_/datasets/coco.py')
num_keypoints = 17
data_root = 'data/my_keypoints/'

# the converted official COCO model: backbone and deconvolutions load; a
# final layer of another keypoint count is skipped, logged, and keeps its
# initialisation
load_from = 'checkpoints/td-hm_uniformer-s_8xb128-210e_coco-256x192_converted.pth'  # noqa: E501
runner_type = 'FineTuneRunner'

model = dict(
    backbone=dict(init_cfg=None),  # load_from brings the backbone
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

# the learning rate is the zoo's for 1024 crops per step (8 GPUs x 128):
# with fewer, train with --auto-scale-lr (lr x batch / 1024)
auto_scale_lr = dict(base_batch_size=1024)
