# Fine-tune the Kinetics-400 UniFormer-XXS (128 px, 4 frames) on your own
# video list with K classes (README "Fine-tuning on your own data").
# Any zoo video config works as _base_; only the lines below differ.
_base_ = '../light/uniformer-xxs-res128_imagenet1k-pre_8xb32-u4-110e_kinetics400-rgb.py'  # noqa: E501
custom_imports = dict(
    imports=[
        'uniformer_mm', 'uniformer_mm.checkpoints.safe_loading',
        'uniformer_mm.checkpoints.finetune'
    ],
    allow_failed_imports=False)

# lines "relative/path.mp4 LABEL", labels 0..K-1
num_classes = 7
data_root = 'data/my_videos/'

# the converted official Kinetics-400 model (400 classes): the backbone
# loads; the K-class fc_cls is skipped, logged, and keeps its initialisation
load_from = 'checkpoints/uniformer-xxs-res128_u4_k400_converted.pth'
runner_type = 'FineTuneRunner'

model = dict(
    backbone=dict(init_cfg=None),  # load_from brings the backbone
    # mixup / cutmix make one-hot labels: they need the class count too
    data_preprocessor=dict(
        blending=dict(augments=[
            dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
            dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)
        ])),
    cls_head=dict(num_classes=num_classes))

train_dataloader = dict(
    dataset=dict(
        ann_file=data_root + 'train_list.txt',
        data_prefix=dict(video=data_root + 'train')))
val_dataloader = dict(
    dataset=dict(
        ann_file=data_root + 'val_list.txt',
        data_prefix=dict(video=data_root + 'val')))
test_dataloader = dict(
    dataset=dict(
        ann_file=data_root + 'val_list.txt',
        data_prefix=dict(video=data_root + 'val')))

# the learning rate is the zoo's for 256 clips per step (8 GPUs x 32):
# with fewer, train with --auto-scale-lr (lr x batch / 256)
auto_scale_lr = dict(enable=False, base_batch_size=256)
