# Fine-tune the ADE20K Semantic FPN UniFormer-XXS on your own ADE-style
# segmentation set with K classes (README "Fine-tuning on your own data").
# Any zoo segmentation config works as _base_; only the lines below differ.
_base_ = '../fpn_uniformer-xxs_8xb4-80k_ade20k-512x512.py'
custom_imports = dict(
    imports=[
        'uniformer_mm', 'uniformer_mm.checkpoints.safe_loading',
        'uniformer_mm.checkpoints.finetune'
    ],
    allow_failed_imports=False)

# your class names; label maps hold 1..K for them and 0 for "other"
# (ignored: reduce_zero_label), as ADE20K's
classes = ('road', 'building', 'vegetation', 'sky', 'car')
metainfo = dict(classes=classes)
data_root = 'data/my_seg'

# the converted official ADE20K model (150 classes): backbone, neck and the
# FPN head's convolutions load; the K-class conv_seg is skipped, logged, and
# keeps its initialisation
load_from = 'checkpoints/fpn_uniformer-xxs_8xb4-80k_ade20k-512x512_converted.pth'  # noqa: E501
runner_type = 'FineTuneRunner'

model = dict(
    backbone=dict(init_cfg=None),  # load_from brings the backbone
    decode_head=dict(num_classes=len(classes)))

train_dataloader = dict(
    dataset=dict(
        type='BaseSegDataset',
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=True,
        data_prefix=dict(
            img_path='images/training', seg_map_path='annotations/training')))
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
            seg_map_path='annotations/validation')))
test_dataloader = val_dataloader

# the learning rate is the zoo's for 32 images per step (8 GPUs x 4):
# with fewer, train with --auto-scale-lr (lr x batch / 32)
auto_scale_lr = dict(enable=False, base_batch_size=32)
