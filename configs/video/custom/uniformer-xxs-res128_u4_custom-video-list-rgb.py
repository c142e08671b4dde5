# Fine-tune the Kinetics-400 UniFormer-XXS (128 px, 4 frames) on your own
# video list with K classes (docs/en/finetune.md). Copy this file anywhere:
# it inherits the zoo config by package name. Any zoo video config works as
# _base_.
_base_ = 'uniformer_mm::video/light/uniformer-xxs-res128_imagenet1k-pre_8xb32-u4-110e_kinetics400-rgb.py'  # noqa: E501

# ---- the lines you edit --------------------------------------------------
# lines "relative/path.mp4 LABEL", labels 0..K-1
num_classes = 7
# the folder holding {train,val}_list.txt and the videos under {train,val}/
# (tools/train.py --data-root DIR overrides it). Clips are 4 frames of
# 128x128, the size the zoo model was trained at.
data_root = 'data/my_videos/'
# training epochs; the warm-up and the cosine decay follow
max_epochs = 110
# starting weights (docs/en/finetune.md "Starting points"): 'k400' (the
# converted official model), 'imagenet' (the backbone only) or 'scratch'
start_from = 'k400'
k400_checkpoint = 'checkpoints/uniformer-xxs-res128_u4_k400_converted.pth'
imagenet_checkpoint = 'checkpoints/uniformer_xxs_128_in1k.pth'
# ---------------------------------------------------------------------------

custom_imports = dict(
    imports=[
        'uniformer_mm', 'uniformer_mm.checkpoints.safe_loading',
        'uniformer_mm.checkpoints.finetune'
    ],
    allow_failed_imports=False)

# FineTuneRunner loads load_from skipping (and logging) the K-class
# classifiers (fc_cls, fc_cls_token), which keep their initialisation
runner_type = 'FineTuneRunner'
load_from = k400_checkpoint if start_from == 'k400' else None

# the backbone's own initialisation: the ImageNet file for 'imagenet'; for
# the zoo model load_from brings it, for 'scratch' it stays random
backbone_init = None
if start_from == 'imagenet':
    backbone_init = dict(type='Pretrained', checkpoint=imagenet_checkpoint)
model = dict(
    backbone=dict(init_cfg=backbone_init),
    # mixup / cutmix make one-hot labels: they need the class count too
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
            dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)
        ])),
    cls_head=dict(num_classes=num_classes))

train_dataloader = dict(
    dataset=dict(  # RepeatAugVideoDataset: 2 samples of each decoded clip
        dataset=dict(
            ann_file=data_root + 'train_list.txt',
            data_prefix=dict(video=data_root + 'train'))))
val_dataloader = dict(
    dataset=dict(
        ann_file=data_root + 'val_list.txt',
        data_prefix=dict(video=data_root + 'val')))
test_dataloader = dict(
    dataset=dict(
        ann_file=data_root + 'val_list.txt',
        data_prefix=dict(video=data_root + 'val')))

train_cfg = dict(max_epochs=max_epochs)
# tools/train.py scales warm-up and cosine decay from the zoo's 110 epochs
# to max_epochs (as --scale-schedule)
scale_schedule = True
# the learning rate is the zoo's for 256 clips per step (8 GPUs x 32):
# with fewer, train with --auto-scale-lr (lr x batch / 256)
auto_scale_lr = dict(enable=False, base_batch_size=256)
