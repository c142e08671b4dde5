"""Every zoo config against the recorded official recipe, field by field.

The official values are in ``official_recipes.py`` (transcribed from the
official files, each row naming its file). Each config is parsed (parsing
only: cached per session) and each field of ours is read from it by a small
extractor; a field that differs must be listed in ``KNOWN_DIFFERENCES`` with
its reason (the same reasons as the task READMEs' "Differences from the
official recipe"). The 1-D zero-decay rule is also checked on built
optimizers, one per distinct video model.
"""
import copy
import functools
import re

import pytest
import torch
from conftest import CONFIGS
from mmengine.config import Config
from official_recipes import (DET, DET_COMMON, FPN, FPN_COMMON, FPN_LIGHT,
                              POSE, POSE_COMMON, UPERNET, UPERNET_COMMON,
                              VIDEO, VIDEO_COMMON)

FOUR_GPU_LIGHT = ('the official run used 4 GPUs x 64 clips; ours 8 x 32: '
                  'the same 256 clips per step and lr, BatchNorm statistics '
                  'per GPU over 32 clips (documented in the video README)')
KNOWN_DIFFERENCES = {
    # (config, field) -> reason; '*' matches every config of a table
}
# the three HMDB51 splits (2 and 3: split 1's official recipe)
for _split in (1, 2, 3):
    _hmdb51 = (f'video/uniformer-s_k400-pre_8xb16-16x4x1-25e_hmdb51-split'
               f'{_split}-rgb.py')
    KNOWN_DIFFERENCES[(_hmdb51, 'num_classes')] = (
        'the official HMDB51 run kept MODEL.NUM_CLASSES 101 of its UCF101 '
        'config (50 outputs never a target); ours has the 51 classes')
    KNOWN_DIFFERENCES[(_hmdb51, 'loader')] = (
        'the official HMDB51 loader read JPEG frames (hmdb); the config '
        'reads the videos with the same dense sampler')
for _light in ('uniformer-xxs-res160_imagenet1k-pre_8xb32-u4',
               'uniformer-xxs-res128_imagenet1k-pre_8xb32-u8',
               'uniformer-xxs-res160_imagenet1k-pre_8xb32-u8'):
    for _field in ('batch_per_gpu', 'gpus'):
        KNOWN_DIFFERENCES[(f'video/light/{_light}-110e_kinetics400-rgb.py',
                           _field)] = FOUR_GPU_LIGHT


@functools.lru_cache(maxsize=None)
def _load(config):
    """A parsed config, once per session (read only: never modified)."""
    return Config.fromfile(str(CONFIGS / config))


def _find(obj, key):
    """The first value of ``key`` anywhere in a nested config."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        for item in obj:
            found = _find(item, key)
            if found is not None:
                return found
    return None


def _one(pipeline, *types):
    found = [t for t in pipeline if t['type'] in types]
    assert len(found) == 1, (types, [t['type'] for t in pipeline])
    return found[0]


def _compare(config, ours, official):
    """Field-by-field differences not documented in KNOWN_DIFFERENCES."""
    task = config.split('/')[0]
    wrong = []
    for field, want in official.items():
        got = ours[field]
        if isinstance(want, float) or isinstance(got, float):
            same = got == pytest.approx(want, rel=1e-9)
        else:
            same = got == want
        listed = (config, field) in KNOWN_DIFFERENCES
        known = listed or (f'{task}/*', field) in KNOWN_DIFFERENCES
        if not same and not known:
            wrong.append(f'{field}: ours {got!r}, official {want!r}')
        elif same and listed:
            # a closed difference must leave the list (and the README)
            wrong.append(f'{field}: equal to the official {want!r} but '
                         'listed in KNOWN_DIFFERENCES')
    return wrong


# ------------------------------------------------------------------ video
DATA_LISTS = {
    'k400': 'kinetics400_val_list_videos.txt',
    'k600': 'kinetics600_val_list_videos.txt',
    'sthv1': 'sthv1_val_list_rawframes.txt',
    'sthv2': 'sthv2_val_list_videos.txt',
}
# data_list/<dataset>/split<k>: MMAction2's names of the split-k lists
for _data in ('ucf101', 'hmdb51'):
    for _split in (1, 2, 3):
        DATA_LISTS[f'{_data}/split{_split}'] = (
            f'{_data}_val_split_{_split}_videos.txt')


def _video_ours(cfg):
    """Our values, in the units of the official rows."""
    optim = cfg.optim_wrapper
    opt = optim.optimizer
    # the training set sits inside the repeated-augmentation wrapper
    train = _find(cfg.train_dataloader.dataset, 'pipeline')
    test = cfg.test_dataloader.dataset.pipeline
    warmup, cosine = cfg.param_scheduler
    backbone, head = cfg.model.backbone, cfg.model.cls_head
    sampler = _one(train, 'SlowFastSampleFrames', 'UniformSample')
    test_sampler = _one(test, 'SlowFastSampleFrames', 'UniformSample')
    resize = _one(test, 'Resize')
    crop = _one(test, 'CenterCrop', 'ThreeCrop')
    crop_size = crop.get('crop_size', resize.scale[1])
    train_size = [t for t in train if t['type'] == 'Resize'][0].scale
    with_cp = backbone.get('with_cp', False)
    dense = sampler.type == 'SlowFastSampleFrames'
    augment = _one(train, 'ClipRandAugment')
    erasing = _one(train, 'RandomErasing')
    rrc = _one(train, 'RandomResizedCrop')
    gpus = cfg.auto_scale_lr.base_batch_size // cfg.train_dataloader.batch_size
    blend = cfg.model.data_preprocessor.blending.augments
    checkpoint = backbone.init_cfg.checkpoint
    val_ann = cfg.test_dataloader.dataset.ann_file.rsplit('/', 1)[-1]
    return dict(
        optimizer=opt.type.lower(),
        betas=tuple(opt.betas),
        lr=opt.lr,
        weight_decay=opt.weight_decay,
        zero_wd_1d=optim.get('paramwise_cfg') == dict(flat_decay_mult=0.),
        batch_per_gpu=cfg.train_dataloader.batch_size,
        gpus=gpus,
        epochs=cfg.train_cfg.max_epochs,
        warmup_epochs=float(warmup.end),
        warmup_start_lr=warmup.start_factor * opt.lr,
        end_lr=cosine.eta_min,
        drop_path=backbone.drop_path_rate,
        checkpoint_num=list(with_cp) if with_cp else None,
        frames=sampler.clip_len,
        sampling_rate=sampler.get('frame_interval') if dense else None,
        loader='dense' if dense else 'segments',
        train_crop=train_size[0],
        test_crop=crop_size,
        test_short_side=resize.scale[1],
        random_flip=any(t['type'] == 'Flip' for t in train),
        aa_type=augment.policy,
        num_sample=_find(cfg.train_dataloader, 'num_repeats') or 1,
        views=(3 if crop.type == 'ThreeCrop' else 1, test_sampler.num_clips),
        num_classes=head.num_classes,
        pretrain=checkpoint,
        data_list=val_ann,
        heads=2 if head.type == 'UniFormerLightHead' else 1,
        amp=optim.type == 'AmpOptimWrapper',
        clip_grad=optim.clip_grad.max_norm,
        # MMAction2 'score': the mean of the raw scores (same ranking as
        # their sum); 'prob' would average softmaxes
        ensemble={
            'score': 'sum of logits',
            'prob': 'mean of softmax'
        }.get(head.average_clips, head.average_clips),
        mixup_alpha=blend[0].alpha,
        cutmix_alpha=blend[1].alpha,
        label_smoothing=head.label_smooth_eps,
        random_erasing=erasing.erase_prob,
        jitter_area=tuple(rrc.area_range),
        jitter_aspect=tuple(round(a, 4) for a in rrc.aspect_ratio_range),
    )


def _video_official(row):
    """The official row in the fields _video_ours reads."""
    scale = row['shards'] if row['lr_x_shards'] else 1
    dense = row['loader'] in ('kinetics', 'hmdb')
    common = VIDEO_COMMON
    return dict(
        optimizer=common['optimizer'],
        betas=common['betas'],
        lr=row['lr'] * scale,
        weight_decay=row['weight_decay'],
        zero_wd_1d=row['zero_wd_1d'],
        # slowfast/datasets/loader.py: TRAIN.BATCH_SIZE / NUM_GPUS (per node)
        batch_per_gpu=row['batch'] // row['gpus'],
        gpus=row['gpus'] * row['shards'],
        epochs=row['epochs'],
        warmup_epochs=row['warmup_epochs'],
        warmup_start_lr=row['warmup_start_lr'] * scale,
        end_lr=row['end_lr'] * scale,
        drop_path=row['drop_path'],
        checkpoint_num=(row['checkpoint_num'] if row['checkpoint_num']
                        and any(row['checkpoint_num']) else None),
        frames=row['frames'],
        sampling_rate=row['sampling_rate'] if dense else None,
        loader='dense' if row['loader'] == 'kinetics' else
        'segments' if not dense else row['loader'],
        train_crop=row['train_crop'],
        test_crop=row['test_crop'],
        # slowfast tests at short side = crop (min_scale = TEST_CROP_SIZE)
        test_short_side=row['test_crop'],
        random_flip=row['random_flip'],
        aa_type=row['aa_type'],
        num_sample=row['num_sample'],
        views=row['views'],
        num_classes=row['num_classes'],
        pretrain=f"checkpoints/{row['pretrain']}.pth",
        data_list=DATA_LISTS[row['data_list']],
        heads=2 if row['tool'] == 'run_net_cls' else 1,
        amp=common['amp'],
        clip_grad=common['clip_grad'],
        ensemble=common['ensemble'],
        mixup_alpha=common['mixup_alpha'],
        cutmix_alpha=common['cutmix_alpha'],
        label_smoothing=common['label_smoothing'],
        random_erasing=common['random_erasing'],
        jitter_area=common['jitter_area'],
        jitter_aspect=common['jitter_aspect'],
    )


@pytest.mark.parametrize('config', sorted(VIDEO))
def test_video_config_is_the_official_recipe(config):
    ours = _video_ours(_load(config))
    wrong = _compare(config, ours, _video_official(VIDEO[config]))
    assert not wrong, f'{config} ({VIDEO[config]["source"]}): {wrong}'


# ------------------------------------------------------ UperNet / FPN
ATTN = {'global': 'global', 'hybrid': 'hybrid', 'window': 'window'}


def _seg_backbone(cfg):
    b = cfg.model.backbone
    with_cp = b.get('with_cp', False)
    attn = b.get('attn_mode')  # hourglass models: none
    return dict(
        arch=b.arch,
        attn=attn,
        window=b.get('window_size') if attn not in (None, 'global') else None,
        drop_path=b.drop_path_rate,
        checkpoint_num=list(with_cp) if with_cp else None)


def _iters(cfg):
    return cfg.train_cfg.max_iters


def _gpus(config, cfg):
    """GPUs the config is for: auto_scale_lr's batch over the per-GPU
    batch, or else its name's ``<gpus>xb<batch>``."""
    if cfg.get('auto_scale_lr'):
        return (cfg.auto_scale_lr.base_batch_size //
                cfg.train_dataloader.batch_size)
    gpus, batch = re.search(r'_(\d+)xb(\d+)-', config).groups()
    assert int(batch) == cfg.train_dataloader.batch_size, config
    return int(gpus)


@pytest.mark.parametrize('config', sorted(UPERNET))
def test_upernet_config_is_the_official_recipe(config):
    cfg = _load(config)
    row, common = UPERNET[config], UPERNET_COMMON
    opt = cfg.optim_wrapper.optimizer
    warmup, poly = cfg.param_scheduler
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    resizes = cfg.tta_pipeline[1].transforms[0]
    test_resize = _one(cfg.test_pipeline, 'Resize')
    ours = dict(
        _seg_backbone(cfg),
        optimizer=opt.type,
        lr=opt.lr,
        betas=tuple(opt.betas),
        weight_decay=opt.weight_decay,
        # the official keys that match a UniFormer parameter: 'norm' only
        decay_mult_0_keys=tuple(k for k, v in keys.items()
                                if v.get('decay_mult') == 0),
        gpus=_gpus(config, cfg),
        batch=cfg.train_dataloader.batch_size,
        iters=_iters(cfg),
        warmup_iters=warmup.end,
        warmup_ratio=warmup.start_factor,
        poly_power=poly.power,
        min_lr=poly.eta_min,
        amp=cfg.optim_wrapper.type == 'AmpOptimWrapper',
        clip_grad=cfg.optim_wrapper.get('clip_grad'),
        num_classes=cfg.model.decode_head.num_classes,
        test_mode=cfg.model.test_cfg.mode,
        test_scale=tuple(test_resize.scale),
        aug_test_ratios=tuple(t.scale[1] / 512 for t in resizes),
        aug_test_flip=[f.prob
                       for f in cfg.tta_pipeline[1].transforms[1]] == [0., 1.],
    )
    official = dict(common, **row)
    official.pop('source')
    official['decay_mult_0_keys'] = tuple(
        k for k in official['decay_mult_0_keys'] if k in _backbone_names())
    wrong = _compare(config, ours, official)
    assert not wrong, f'{config} ({row["source"]}): {wrong}'


@functools.lru_cache(maxsize=None)
def _backbone_names():
    """Every custom-key fragment of the official recipes found in a
    UniFormer parameter name (so keys matching none can be dropped)."""
    from uniformer_mm.models import UniFormer
    names = [n for n, _ in UniFormer(arch='small').named_parameters()]
    keys = set(UPERNET_COMMON['decay_mult_0_keys']) | set(
        POSE_COMMON['decay_mult_0_keys'])
    return {k for k in keys if any(k in n for n in names)}


@pytest.mark.parametrize('config', sorted(FPN) + sorted(FPN_LIGHT))
def test_fpn_config_is_the_official_recipe(config):
    cfg = _load(config)
    row, common = {**FPN, **FPN_LIGHT}[config], FPN_COMMON
    if config in FPN_LIGHT:
        row = dict(row, attn=None, window=None)
    opt = cfg.optim_wrapper.optimizer
    warmup = cfg.param_scheduler[0]
    ours = dict(
        _seg_backbone(cfg),
        optimizer=opt.type,
        lr=opt.lr,
        weight_decay=opt.weight_decay,
        gpus=_gpus(config, cfg),
        batch=cfg.train_dataloader.batch_size,
        iters=_iters(cfg),
        warmup_iters=warmup.end,
        warmup_ratio=warmup.start_factor,
        amp=cfg.optim_wrapper.type == 'AmpOptimWrapper',
        num_classes=cfg.model.decode_head.num_classes,
    )
    official = dict(common, checkpoint_num=None, **row)
    official.pop('source')
    wrong = _compare(config, ours, official)
    assert not wrong, f'{config} ({row["source"]}): {wrong}'


# -------------------------------------------------------------- detection
@pytest.mark.parametrize('config', sorted(DET))
def test_detection_config_is_the_official_recipe(config):
    cfg = _load(config)
    row, common = DET[config], DET_COMMON
    opt = cfg.optim_wrapper.optimizer
    warmup, steps = cfg.param_scheduler
    keys = cfg.optim_wrapper.paramwise_cfg.custom_keys
    ours = dict(
        _seg_backbone(cfg),
        optimizer=opt.type,
        lr=opt.lr,
        betas=tuple(opt.betas),
        weight_decay=opt.weight_decay,
        decay_mult_0_keys=tuple(k for k, v in keys.items()
                                if v.get('decay_mult') == 0),
        gpus=_gpus(config, cfg),
        batch=cfg.train_dataloader.batch_size,
        epochs=cfg.train_cfg.max_epochs,
        steps=tuple(steps.milestones),
        warmup_iters=warmup.end,
        warmup_ratio=warmup.start_factor,
        amp=cfg.optim_wrapper.type == 'AmpOptimWrapper',
        clip_grad=cfg.optim_wrapper.get('clip_grad'),
    )
    official = dict(common, **row)
    official.pop('source')
    official['decay_mult_0_keys'] = tuple(
        k for k in official['decay_mult_0_keys'] if k in _backbone_names())
    wrong = _compare(config, ours, official)
    assert not wrong, f'{config} ({row["source"]}): {wrong}'


# ------------------------------------------------------------------- pose
@pytest.mark.parametrize('config', sorted(POSE))
def test_pose_config_is_the_official_recipe(config):
    cfg = _load(config)
    row, common = POSE[config], POSE_COMMON
    opt = cfg.optim_wrapper.optimizer
    warmup, steps = cfg.param_scheduler
    keys = cfg.optim_wrapper.get('paramwise_cfg', {}).get('custom_keys', {})
    test_cfg = cfg.model.test_cfg
    bbox_file = cfg.test_dataloader.dataset.get('bbox_file')
    ours = dict(
        arch=cfg.model.backbone.arch,
        optimizer=opt.type,
        lr=opt.lr,
        betas=tuple(opt.betas),
        weight_decay=opt.weight_decay,
        decay_mult_0_keys=tuple(k for k, v in keys.items()
                                if v.get('decay_mult') == 0),
        gpus=cfg.auto_scale_lr.base_batch_size //
        cfg.train_dataloader.batch_size,
        batch=cfg.train_dataloader.batch_size,
        epochs=cfg.train_cfg.max_epochs,
        warmup_iters=warmup.end,
        warmup_ratio=warmup.start_factor,
        lr_steps=tuple(steps.milestones),
        amp=cfg.optim_wrapper.type == 'AmpOptimWrapper',
        clip_grad=cfg.optim_wrapper.get('clip_grad'),
        drop_path=cfg.model.backbone.drop_path_rate,
        image_size=tuple(cfg.codec.input_size),
        heatmap_size=tuple(cfg.codec.heatmap_size),
        sigma=cfg.codec.sigma,
        flip_test=test_cfg.flip_test,
        shift_heatmap=test_cfg.shift_heatmap,
        use_gt_bbox=bbox_file is None,
        bbox_file=bbox_file and bbox_file.rsplit('/', 1)[-1],
    )
    official = dict(common, **row)
    official.pop('source')
    official['decay_mult_0_keys'] = tuple(
        k for k in official['decay_mult_0_keys'] if k in _backbone_names())
    wrong = _compare(config, ours, official)
    assert not wrong, f'{config} ({row["source"]}): {wrong}'


def test_the_table_covers_the_zoo():
    from conftest import zoo_configs
    table = [VIDEO, UPERNET, FPN, FPN_LIGHT, POSE, DET]
    rows = [c for t in table for c in t]
    assert len(rows) == len(set(rows))
    assert set(rows) == set(zoo_configs())


# ------------------------------------- the 1-D zero-decay rule, built
def _video_models():
    """One config per distinct video model (arch, layer scale); UniFormer-B
    has exactly the module and parameter kinds of UniFormer-S (and takes
    2 s more), so S stands for both."""
    seen = {}
    for config in sorted(VIDEO):
        b = _load(config).model.backbone
        if b.arch != 'base':
            seen.setdefault((b.type, b.arch), config)
    return sorted(seen.values())


@pytest.mark.parametrize('config', _video_models())
def test_zero_weight_decay_on_every_1d_parameter(config):
    """slowfast/models/optimizer.py with ZERO_WD_1D_PARAM True: BatchNorm
    parameters at BN.WEIGHT_DECAY (0), every other parameter of one
    dimension at 0, all the rest at SOLVER.WEIGHT_DECAY -- computed here
    from the parameters' shapes and modules, then compared with the
    optimizer our config builds."""
    from conftest import build_zoo_model
    from mmengine.logging import MMLogger
    from mmengine.optim import build_optim_wrapper
    cfg = _load(config)
    model = build_zoo_model(cfg)
    wrapper = copy.deepcopy(cfg.optim_wrapper)
    wrapper.type = 'OptimWrapper'  # AMP needs a GPU; the groups are equal
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('WARNING')  # one INFO line per parameter otherwise
    try:
        optimizer = build_optim_wrapper(model, wrapper).optimizer
    finally:
        logger.setLevel(level)
    decay = {
        id(p): g['weight_decay']
        for g in optimizer.param_groups
        for p in g['params']
    }
    wd = VIDEO[config]['weight_decay']
    bn = VIDEO_COMMON['bn_weight_decay']
    checked = 0
    for module in model.modules():
        is_bn = isinstance(module, torch.nn.modules.batchnorm._NormBase)
        for name, p in module.named_parameters(recurse=False):
            want = bn if is_bn else 0. if p.dim() == 1 else wd
            assert decay[id(p)] == want, (name, tuple(p.shape), decay[id(p)])
            checked += 1
    assert checked == len(decay) == len(list(model.parameters()))
    # the rule reaches the layer-scale gammas and spares cls_token
    names = dict(model.named_parameters())
    for name, p in names.items():
        if '.gamma_' in name and p.dim() == 1:
            assert decay[id(p)] == 0.
        if name.endswith('cls_token'):
            assert p.dim() == 3 and decay[id(p)] == wd
