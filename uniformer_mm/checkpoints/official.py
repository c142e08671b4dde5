"""Converting an official UniFormer file for one of our configs: picking
the config, building its model, converting and checking the tensors, and
writing the weights-only result. ``tools/convert_official.py`` is the
command line over :func:`convert`; its docstring explains the options.
"""
import glob
import os
import os.path as osp
import re
from typing import Any, Dict, Optional, Tuple

import torch
from mmengine.config import Config

from ..analysis.build import build_model_from_config
from ..models.arch import (ARCH_ZOO_2D, ARCH_ZOO_LIGHT_2D, TEST_PRESETS,
                           preset_aliases)
from .backbone import head_dim_from_metadata
from .convert import (LAYOUTS, ConversionError, backbone_part, checkpoint_meta,
                      config_text, convert_imagenet, convert_whole_model,
                      describe_arch, detect_layout, match_preset,
                      official_attention)
from .io import CheckpointRefusedError, load_checkpoint_file, to_weights_only

# where configs/ is searched for a matching config: the repository, or in
# an installed wheel the package's .mim folder (which carries configs/)
_PACKAGE = osp.dirname(osp.dirname(osp.abspath(__file__)))
ROOT = next((root
             for root in (osp.dirname(_PACKAGE), osp.join(_PACKAGE, '.mim'))
             if osp.isdir(osp.join(root, 'configs'))), osp.dirname(_PACKAGE))


def _imagenet_candidates(state_dict, checkpoint, args):
    """(backbone, what it is, config) to try an ImageNet file against."""
    if args.config:
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        model, _ = build_model_from_config(cfg)
        return [(model.backbone, f'the backbone of {args.config}', args.config)
                ]
    from uniformer_mm.models import UniFormer
    recorded = head_dim_from_metadata(checkpoint)
    preset = match_preset(state_dict, recorded[0] if recorded else None)
    if preset is not None:
        return [(UniFormer(arch=preset), f"UniFormer(arch='{preset}')", None)]
    from uniformer_mm.models import UniFormerLight
    return [
        (UniFormerLight(arch=name), f"UniFormerLight(arch='{name}')", None)
        for name in sorted(set(UniFormerLight.arch_zoo) - set(TEST_PRESETS))
    ]


def _convert_imagenet(state_dict, checkpoint, args):
    candidates = _imagenet_candidates(state_dict, checkpoint, args)
    errors = []
    for backbone, target, config in candidates:
        try:
            converted, stats = convert_imagenet(state_dict, backbone,
                                                checkpoint)
        except ConversionError as error:
            errors.append(f'{target}: {error}')
            continue
        return converted, stats, target, config
    if len(errors) == 1:
        raise ConversionError(errors[0])
    raise ConversionError(
        'the ImageNet file matches no UniFormer preset of this repository '
        '(depths / embed_dims / conv_stem / layer_scale / hourglass); pass '
        '--config with the backbone it is for.' +
        ''.join(f'\n  {e.splitlines()[0]}' for e in errors))


def _label_remap(args):
    """The class-order permutation of ``--label-map``, or None."""
    if not args.label_map:
        return None
    from uniformer_mm.checkpoints.video import remap_from_label_files
    return remap_from_label_files(
        args.label_map[:-1],
        args.label_map[-1],
        normalize=not args.exact_names)


def _check_video_classes(state_dict, model, config, remap) -> None:
    """Refuse a video head of another class count than the config's (or
    label lists of another length) by name, before any key is renamed."""
    if 'head.weight' not in state_dict:
        return  # rename_keys names the missing classifier
    got = state_dict['head.weight'].shape[0]
    target = model.state_dict().get('cls_head.fc_cls.weight')
    if target is not None and target.shape[0] != got:
        raise ConversionError(
            f'the checkpoint has {got} classes, {config} expects '
            f'{target.shape[0]} (cls_head.num_classes): a {got}-class file '
            'is for another dataset (K400 400, K600 600, SSv1/SSv2 174). '
            'Pass a config of that dataset, or load only the backbone '
            "(init_cfg=dict(type='Pretrained', checkpoint=...))")
    if remap is not None and len(remap) != got:
        raise ConversionError(
            f'the --label-map lists have {len(remap)} classes, the '
            f'checkpoint {got}: label files of another dataset?')


def convert(args) -> dict:
    """Convert ``args.input`` to ``args.output``; returns a summary."""
    if args.label_map is not None and len(args.label_map) < 2:
        raise ConversionError(
            '--label-map needs the label list(s) in the checkpoint\'s order '
            'and then the dataset\'s label list')
    if args.exact_names and not args.label_map:
        raise ConversionError('--exact-names goes with --label-map')
    if osp.exists(args.input) and osp.exists(args.output) and osp.samefile(
            args.input, args.output):
        raise ConversionError(
            'OUT is IN: write to a new file; the official file is left as '
            'it is')
    try:
        checkpoint = load_checkpoint_file(args.input)
    except (CheckpointRefusedError, FileNotFoundError, ValueError):
        raise
    except Exception as error:  # the unpickler's own errors on junk bytes
        raise ConversionError(
            f'{args.input!r} is not a PyTorch checkpoint (the weights-only '
            f'unpickler failed: {type(error).__name__}: {error})') from None
    layout, state_dict = detect_layout(checkpoint)
    if args.label_map and layout != 'slowfast':
        raise ConversionError(
            f'--label-map reorders video classifiers; this file is '
            f'{LAYOUTS[layout]}, not a SlowFast video checkpoint')
    remap = _label_remap(args)  # label file problems fail before any build
    summary = dict(layout=layout, layout_name=LAYOUTS[layout])
    meta = dict(converted_from=osp.basename(args.input), layout=layout)

    if layout == 'imagenet':
        converted, stats, target, config = _convert_imagenet(
            state_dict, checkpoint, args)
        summary.update(
            target=target,
            config=config,
            tensors=len(converted),
            missing=0,
            unexpected=0,
            dropped=stats['dropped'],
            not_in_file=stats['not_in_file'],
            use='--cfg-options model.backbone.init_cfg.checkpoint='
            f'{args.output} (a config whose backbone is {target})')
    else:
        config = args.config
        why = 'given'
        if config is None:
            config, why = suggest_config(layout, state_dict, checkpoint, ROOT)
            if config is None:
                raise ConversionError(
                    f'this repository has no config for the file ({why}); '
                    'pass --config CONFIG')
            config = osp.join(ROOT, config)
        cfg = Config.fromfile(config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        model, _ = build_model_from_config(cfg)
        if layout == 'slowfast':
            _check_video_classes(state_dict, model, osp.relpath(config, ROOT),
                                 remap)
        converted, stats = convert_whole_model(layout, state_dict, model,
                                               osp.relpath(config, ROOT),
                                               remap)
        # the strict load is the proof: every key, every shape
        model.load_state_dict(converted, strict=True)
        if layout == 'slowfast':
            classes = int(converted['cls_head.fc_cls.weight'].shape[0])
            if remap is None:
                order = 'official (not remapped)'
                summary['classes'] = (
                    f'{classes}, official order kept (pass --label-map if '
                    'your annotation lists use another order)')
            else:
                files = [osp.basename(p) for p in args.label_map]
                order = (f"remapped from {', '.join(files[:-1])} to "
                         f'{files[-1]}')
                moved = int((remap != torch.arange(len(remap))).sum())
                summary['classes'] = f'{classes}, {order} ({moved} rows moved)'
                meta['label_remap'] = files
            meta.update(num_classes=classes, class_order=order)
        summary.update(
            target=type(model).__name__,
            config=osp.relpath(config, ROOT),
            why=why,
            tensors=stats['tensors'],
            missing=0,
            unexpected=0,
            dropped=stats['dropped'],
            use=f'load_from={args.output} with {osp.relpath(config, ROOT)}')
        meta['config'] = osp.relpath(config, ROOT)
    dataset_meta = checkpoint_meta(checkpoint)
    if dataset_meta:
        meta['dataset_meta'] = dataset_meta
    out_dir = osp.dirname(osp.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    torch.save({
        'state_dict': converted,
        'meta': to_weights_only(meta)[0]
    }, args.output)
    load_checkpoint_file(args.output)  # readable weights-only
    return summary


def _arch_names_by_depths() -> dict:
    """Backbone depths -> the arch names our configs use for them, from the
    presets (the hourglass XS shares small-plus's depths and wins: no
    config uses small-plus)."""
    out = {}
    for zoo in (ARCH_ZOO_LIGHT_2D, ARCH_ZOO_2D):
        for canonical, aliases in preset_aliases(zoo).items():
            if canonical in TEST_PRESETS:
                continue
            out.setdefault(
                tuple(zoo[canonical]['depths']), (canonical, *aliases))
    return out


def suggest_config(layout: str, state_dict: Dict[str, torch.Tensor],
                   checkpoint: Any, root: str) -> Tuple[Optional[str], str]:
    """Our config for an official file (path relative to ``root``, or None)
    and why it was chosen: the first config of the task's folder with the
    file's backbone depths and head type (and, where the file's training
    config records them, attention mode / input size / classes)."""
    backbone = backbone_part(layout, state_dict)
    depths = tuple(describe_arch(backbone)['depths'])
    names = _arch_names_by_depths().get(depths)
    label = f'UniFormer-{min(names, key=len).upper()}' if names else \
        f'an unknown UniFormer (depths {list(depths)})'
    if names is None:
        return None, label
    attention = official_attention(checkpoint)
    if layout == 'mmdet2':
        cascade = any(
            k.startswith('roi_head.bbox_head.0.') for k in state_dict)
        path = _scan_configs(
            root, 'configs/detection', names, lambda c: ((c.model.get(
                'roi_head', {}).get('type') == 'CascadeRoIHead') == cascade))
        why = (('Cascade Mask' if cascade else 'Mask') + f' R-CNN, {label} '
               '(the 1x and 3x configs build the same model)')
    elif layout == 'mmseg0':
        head = 'FPNHead' if any(k.startswith('neck.') for k in state_dict) \
            else 'UPerHead'
        mode, window = attention or ('global', None)
        path = _scan_configs(
            root, 'configs/segmentation', names, lambda c:
            (c.model.decode_head.get('type') == head and c.model.backbone.get(
                'attn_mode', 'global') == mode and
             (mode == 'global' or c.model.backbone.get('window_size', 14) ==
              window)))
        why = (f'{head}, {label}, attention ' +
               (f'{mode}{"" if mode == "global" else f" {window}"} from the '
                'file\'s training config' if attention else
                'global (the file records none; the same weights serve the '
                'h/w variants)'))
    elif layout == 'mmpose0':
        size_match = re.search(r'image_size\s*=\s*\[\s*(\d+)\s*,\s*(\d+)',
                               config_text(checkpoint))
        path, why = None, f'MMPose top-down heatmap, {label}'
        if size_match:
            size = [int(size_match.group(1)), int(size_match.group(2))]
            path = _scan_configs(
                root, 'configs/pose', names, lambda c:
                (list(c.get('codec', {}).get('input_size', ())) == size))
            why += f', input {size[1]}x{size[0]} (from the file\'s config)'
        else:
            why += ' (the file records no input size: pass --config)'
    elif layout == 'slowfast':
        classes = state_dict['head.weight'].shape[0] if (
            'head.weight' in state_dict) else None
        text = config_text(checkpoint)
        frames = re.search(r'NUM_FRAMES\s*:\s*(\d+)', text)
        frames = int(frames.group(1)) if frames else None
        dataset = re.search(r'DATASET\s*:\s*([A-Za-z0-9_]+)', text)
        dataset = dataset.group(1).lower() if dataset else None

        def accept(c):
            if c.model.get('cls_head', {}).get('num_classes') != classes:
                return False
            if frames and _clip_len(c) not in (None, frames):
                return False
            name = osp.basename(c.filename or '')
            return not dataset or dataset.startswith('kinetics') or (dataset
                                                                     in name)

        path = _scan_configs(root, 'configs/video', names, accept)
        why = (f'video, {label}, {classes} classes' +
               (f', {frames} frames' if frames else '') +
               (f', {dataset}' if dataset else '') +
               (' (from the file\'s cfg)' if frames or dataset else ''))
    else:
        return None, 'no config is implied by this layout'
    return path, why


def _clip_len(cfg) -> Optional[int]:
    """Frames per clip of a video config's test pipeline, if it says."""
    pipeline = cfg.get('test_pipeline') or cfg.get('val_pipeline') or []
    for step in pipeline:
        if isinstance(step, dict) and 'clip_len' in step:
            return int(step['clip_len'])
    return None


def _scan_configs(root: str, folder: str, arch_names: Tuple[str, ...],
                  accept) -> Optional[str]:
    for path in sorted(
            glob.glob(osp.join(root, folder, '**', '*.py'), recursive=True)):
        rel = osp.relpath(path, root)
        # only the zoo: not bases, demos or fine-tuning templates (custom/,
        # whose class counts are a user's)
        if {'_base_', 'demo', 'custom'} & set(rel.split(osp.sep)):
            continue
        try:
            cfg = Config.fromfile(path)
            arch = str(cfg.model.get('backbone', {}).get('arch')).lower()
            # 'xxs-ls': the layer-scale variant of the same architecture
            if arch.replace('-ls', '') in arch_names and accept(cfg):
                return rel
        except Exception:  # a config that does not load is no candidate
            continue
    return None
