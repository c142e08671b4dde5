# UperNet on ADE20K, the Swin recipe: 8 GPUs x 2 images, AdamW lr 6e-5,
# weight decay 0.01 (none on norms), 1.5k linear warm-up, linear (poly 1.0)
# decay to 0 over 160k iterations.
_base_ = [
    'mmseg::_base_/models/upernet_swin.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_160k.py',
]
# the package, and MMEngine loading local checkpoints weights-only (under
# any tool: mim, a codebase's own tools/train.py)
custom_imports = dict(
    imports=['uniformer_mm', 'uniformer_mm.checkpoints.safe_loading'],
    allow_failed_imports=False)

crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        _delete_=True,
        type='UniFormer',
        arch='small',
        attn_mode='hybrid',  # stage 3: windows of 14, blocks 4 and 8 global
        window_size=14,
        drop_path_rate=0.25,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/uniformer_small_in1k.pth')),
    decode_head=dict(in_channels=[64, 128, 320, 512], num_classes=150),
    auxiliary_head=dict(in_channels=320, num_classes=150))

# 'norm' matches every norm of the backbone, as in the official recipe; the
# convolutional position embeddings (pos_embed) keep their decay, as there.
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))
# Both from iteration 0: the warm-up factor multiplies the poly curve, as
# mmcv's warm-up did in the official run.
param_scheduler = [
    dict(
        type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        by_epoch=False,
        begin=0,
        end=160000),
]
train_dataloader = dict(batch_size=2)
# Multi-scale + flip test (`tools/test.py CONFIG CKPT --tta`, with mmseg's
# tta_model) with the official `--aug-test` sizes: mmseg 0.x
# MultiScaleFlipAug multiplied img_scale (2048, 512) by each ratio and
# resized keep-ratio to fit that scale, so an image's short side becomes
# 512 * r (its long side at most 2048 * r) whatever its own size. The mmseg
# 1.x ade20k base resizes the original image by scale_factor=r instead,
# which differs for every image whose short side is not 512.
tta_scale = (2048, 512)
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [
                dict(
                    type='Resize',
                    scale=(int(tta_scale[0] * r), int(tta_scale[1] * r)),
                    keep_ratio=True) for r in img_ratios
            ],
            [
                dict(type='RandomFlip', prob=0., direction='horizontal'),
                dict(type='RandomFlip', prob=1., direction='horizontal')
            ], [dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]
        ])
]
