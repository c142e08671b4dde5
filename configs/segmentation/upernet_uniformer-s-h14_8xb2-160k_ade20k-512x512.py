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
# Multi-scale + flip test: `tools/test.py CONFIG CKPT --tta` uses the
# tta_pipeline (ratios 0.5-1.75, flip) and tta_model of the upstream bases.
