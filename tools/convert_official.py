"""Convert any official UniFormer checkpoint into one our configs load.

Usage:
    python tools/convert_official.py IN OUT [--config CONFIG]
        [--kinetics-label-map OFFICIAL_LIST [OFFICIAL_LIST2] DATASET_LIST]
        [--cfg-options KEY=VALUE ...]

IN is any official file: ImageNet (incl. token labeling, layer scale,
hourglass), MMDetection 2.x Mask / Cascade Mask R-CNN, MMSegmentation 0.x
FPN / UperNet, MMPose 0.x top-down, SlowFast video. The layout is detected,
the keys renamed to our OpenMMLab 2.0 models' names, and the result checked
against the model of CONFIG (by default the config this repository has for
the file): zero missing and zero unexpected keys, or an error naming them.
OUT is a weights-only file ``{'state_dict', 'meta'}``:

* whole models: ``load_from=OUT`` (or ``tools/test.py CONFIG OUT``);
* ImageNet files: the backbone's initialisation,
  ``--cfg-options model.backbone.init_cfg.checkpoint=OUT``.

``--kinetics-label-map`` permutes a video classifier's rows from the
official class order (its label list(s)) to the dataset's (MMAction2's
``label_map_k400.txt`` ...), matching classes by name.
"""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from uniformer_mm.analysis.build import build_model_from_config  # noqa: E402
from uniformer_mm.models.official_convert import (  # noqa: E402
    LAYOUTS, ConversionError, checkpoint_meta, convert_imagenet,
    convert_whole_model, detect_layout, match_preset, suggest_config)
from uniformer_mm.models.official_weights import (  # noqa: E402
    head_dim_from_metadata)
from uniformer_mm.utils.checkpoint_io import (  # noqa: E402
    CheckpointRefusedError, load_checkpoint_file, to_weights_only)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an official UniFormer checkpoint for our configs')
    parser.add_argument('input', help='the official checkpoint')
    parser.add_argument('output', help='where to write the converted file')
    parser.add_argument(
        '--config',
        help='the config the output is for (default: the one this '
        'repository has for the file, when it can be told)')
    parser.add_argument(
        '--kinetics-label-map',
        nargs='+',
        metavar='FILE',
        help='video only: the official label list(s) the checkpoint was '
        'trained with, then the dataset\'s label list; the classifier rows '
        'are permuted to the dataset\'s order')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value')
    return parser.parse_args(argv)


def _imagenet_candidates(state_dict, checkpoint, args):
    """(backbone, what it is, config) to try an ImageNet file against."""
    if args.config:
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        model, _ = build_model_from_config(cfg)
        return [(model.backbone, f'the backbone of {args.config}',
                 args.config)]
    from uniformer_mm.models import UniFormer
    recorded = head_dim_from_metadata(checkpoint)
    preset = match_preset(state_dict, recorded[0] if recorded else None)
    if preset is not None:
        return [(UniFormer(arch=preset), f"UniFormer(arch='{preset}')",
                 None)]
    try:  # the hourglass models (XXS / XS), when the backbone is here
        from uniformer_mm.models import UniFormerLight
    except ImportError:
        return []
    return [(UniFormerLight(arch=name), f"UniFormerLight(arch='{name}')",
             None) for name in sorted(set(UniFormerLight.arch_zoo))]


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


def convert(args) -> dict:
    """Convert ``args.input`` to ``args.output``; returns a summary."""
    try:
        checkpoint = load_checkpoint_file(args.input)
    except (CheckpointRefusedError, FileNotFoundError, ValueError):
        raise
    except Exception as error:  # the unpickler's own errors on junk bytes
        raise ConversionError(
            f'{args.input!r} is not a PyTorch checkpoint (the weights-only '
            f'unpickler failed: {type(error).__name__}: {error})') from None
    layout, state_dict = detect_layout(checkpoint)
    summary = dict(layout=layout, layout_name=LAYOUTS[layout])
    meta = dict(converted_from=osp.basename(args.input), layout=layout)

    if layout == 'imagenet':
        converted, stats, target, config = _convert_imagenet(
            state_dict, checkpoint, args)
        summary.update(
            target=target, config=config, tensors=len(converted),
            missing=0, unexpected=0, dropped=stats['dropped'],
            not_in_file=stats['not_in_file'],
            use='--cfg-options model.backbone.init_cfg.checkpoint='
            f'{args.output} (a config whose backbone is {target})')
    else:
        config = args.config
        why = 'given'
        if config is None:
            config, why = suggest_config(layout, state_dict, checkpoint,
                                         ROOT)
            if config is None:
                raise ConversionError(
                    f'this repository has no config for the file ({why}); '
                    'pass --config CONFIG')
            config = osp.join(ROOT, config)
        cfg = Config.fromfile(config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        model, _ = build_model_from_config(cfg)
        remap = None
        if args.kinetics_label_map:
            if layout != 'slowfast':
                raise ConversionError('--kinetics-label-map is for SlowFast '
                                      'video checkpoints only')
            if len(args.kinetics_label_map) < 2:
                raise ConversionError(
                    '--kinetics-label-map needs the official label list(s) '
                    'and then the dataset label list')
            from uniformer_mm.models.video_checkpoint import \
                remap_from_label_files
            remap = remap_from_label_files(args.kinetics_label_map[:-1],
                                           args.kinetics_label_map[-1])
            meta['label_remap'] = [osp.basename(p)
                                   for p in args.kinetics_label_map]
        converted, stats = convert_whole_model(
            layout, state_dict, model, osp.relpath(config, ROOT), remap)
        # the strict load is the proof: every key, every shape
        model.load_state_dict(converted, strict=True)
        summary.update(
            target=type(model).__name__, config=osp.relpath(config, ROOT),
            why=why, tensors=stats['tensors'], missing=0, unexpected=0,
            dropped=stats['dropped'],
            use=f'load_from={args.output} with {osp.relpath(config, ROOT)}')
        meta['config'] = osp.relpath(config, ROOT)
    dataset_meta = checkpoint_meta(checkpoint)
    if dataset_meta:
        meta['dataset_meta'] = dataset_meta
    out_dir = osp.dirname(osp.abspath(args.output))
    os.makedirs(out_dir, exist_ok=True)
    torch.save({'state_dict': converted,
                'meta': to_weights_only(meta)[0]}, args.output)
    load_checkpoint_file(args.output)  # readable weights-only
    return summary


def main(argv=None):
    args = parse_args(argv)
    try:
        summary = convert(args)
    except (ConversionError, CheckpointRefusedError, FileNotFoundError,
            ValueError) as error:
        print(f'convert_official: {error}', file=sys.stderr)
        return 1
    print(f"layout:     {summary['layout_name']} ({summary['layout']})")
    print(f"target:     {summary['target']}")
    if summary.get('config'):
        print(f"config:     {summary['config']}"
              + (f" ({summary['why']})" if summary.get('why') else ''))
    print(f"tensors:    {summary['tensors']} converted; missing "
          f"{summary['missing']}, unexpected {summary['unexpected']}")
    if summary.get('dropped'):
        print(f"dropped:    {len(summary['dropped'])} tensors the target "
              f"does not have: {', '.join(summary['dropped'][:8])}"
              + (' ...' if len(summary['dropped']) > 8 else ''))
    if summary.get('not_in_file'):
        print(f"initialised: {', '.join(summary['not_in_file'])} are not "
              'in ImageNet files and keep their initial values')
    print(f"wrote:      {args.output}")
    print(f"use:        {summary['use']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
