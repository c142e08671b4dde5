# Training recipe shared by the UniFormer COCO detectors (no model here: each
# detector config adds the upstream detector base file next to this one).
# Official recipe: AdamW lr 1e-4, betas (0.9, 0.999), weight decay 0.05 with
# no decay on norm layers, mixed precision, 8 GPUs x 2 images, 12 epochs with
# the lr divided by 10 after epochs 8 and 11 (500 linear warm-up iterations).
_base_ = [
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
]
# the package, and MMEngine loading local checkpoints weights-only (under
# any tool: mim, a codebase's own tools/train.py)
custom_imports = dict(
    imports=['uniformer_mm', 'uniformer_mm.checkpoints.safe_loading'],
    allow_failed_imports=False)

# 'norm' matches every norm of the backbone (patch_embed*.norm, the blocks'
# norm1/norm2 and the output norm1..norm4) as in the official recipe; the
# convolutional position embeddings (pos_embed) keep their decay, as there.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(
        _delete_=True,
        type='AdamW',
        lr=1e-4,
        betas=(0.9, 0.999),
        weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'norm': dict(decay_mult=0.)}))

# The lr above is for 16 images per iteration (8 GPUs x 2).
auto_scale_lr = dict(enable=False, base_batch_size=16)
