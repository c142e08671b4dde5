# Model and optimiser shared by every UniFormer video config (no data here).
# Official recipe (video_classification/exp/*/config.yaml + run.sh upstream):
# AdamW, weight decay 0.05 with none on any 1-D parameter
# (ZERO_WD_1D_PARAM True, BN.WEIGHT_DECAY 0), mixed precision, gradient-norm
# clipping at 20 (CLIP_GRADIENT), soft cross-entropy on mixup/cutmix targets
# with label smoothing 0.1, no dropout before the classifier.
_base_ = ['mmaction::_base_/default_runtime.py']
# the package, and MMEngine loading local checkpoints weights-only (under
# any tool: mim, a codebase's own tools/train.py)
custom_imports = dict(
    imports=['uniformer_mm', 'uniformer_mm.checkpoints.safe_loading'],
    allow_failed_imports=False)

num_classes = 400
model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='UniFormer3D',
        arch='small',
        drop_path_rate=0.1,
        # the official runs used no checkpointing (MODEL.USE_CHECKPOINT
        # False); its README suggests [0, 0, 4, 0] when memory is short
        with_cp=False,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/uniformer_small_in1k.pth')),
    cls_head=dict(
        type='I3DHead',
        in_channels=512,
        num_classes=num_classes,
        dropout_ratio=0.,  # the official model has no head dropout
        init_std=0.02,  # official trunc_normal_(std=.02) on the head
        label_smooth_eps=0.1,
        # the official test sums the views' logits (TestMeter,
        # DATA.ENSEMBLE_METHOD 'sum'): the mean of the raw scores ranks the
        # classes the same; pred_score is therefore logits, not
        # probabilities (softmax them for a confidence)
        average_clips='score'),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        # official DATA.MEAN 0.45 / DATA.STD 0.225 on 0-1 pixels
        mean=[114.75, 114.75, 114.75],
        std=[57.375, 57.375, 57.375],
        format_shape='NCTHW',
        # MIXUP: mixup alpha 0.8 or cutmix alpha 1.0 (switch prob 0.5) on
        # every batch
        blending=dict(
            type='RandomBatchAugment',
            augments=[
                dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
                dict(
                    type='CutmixBlending', alpha=1.0, num_classes=num_classes)
            ])))

optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
    # the official ZERO_WD_1D_PARAM rule (slowfast/models/optimizer.py):
    # every 1-D parameter (norms, biases, layer-scale gammas) without decay,
    # every other one (cls_token and pos_embed included) with it. MMEngine's
    # flat_decay_mult is exactly that when no norm/bias mult precedes it.
    paramwise_cfg=dict(flat_decay_mult=0.),
    clip_grad=dict(max_norm=20, norm_type=2))

default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))
