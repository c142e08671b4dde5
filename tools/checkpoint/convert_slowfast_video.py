"""Convert an official UniFormer video checkpoint for MMAction2's load_from.

The official Kinetics / Something-Something models (SlowFast layout,
``{'model_state': ...}`` with the classifier under ``head.*``) become a
weights-only ``{'state_dict': {'backbone.*', 'cls_head.fc_cls.*'}, 'meta'}``
file that a recognizer config of ``configs/video/`` loads whole:

    python tools/checkpoint/convert_slowfast_video.py \\
        checkpoints/uniformer_small_k400_16x4.pth \\
        checkpoints/uniformer-s_16x4_k400_mmaction.pth \\
        --config configs/video/uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_kinetics400-rgb.py \\
        --checkpoint-classes kinetics_400_categroies.txt \\
        --dataset-classes label_map_k400.txt
    python tools/test.py CONFIG checkpoints/uniformer-s_16x4_k400_mmaction.pth

``--checkpoint-classes`` / ``--dataset-classes`` reorder the classifier rows
from the official class order to the one of your annotation lists (the
official Kinetics-600 order is two files: give both). Without them the
official order is kept -- right only if your annotation lists use the
official label files. ``--config`` builds the recognizer and loads the
result strictly, so a wrong file fails here rather than in the runner.
"""
import argparse
import os.path as osp
import sys

import torch

from uniformer_mm.models.video_checkpoint import (
    convert_slowfast_to_recognizer, remap_from_label_files)
from uniformer_mm.utils import load_checkpoint_file


def _check_with_config(config: str, state_dict) -> None:
    """Build the config's recognizer and load ``state_dict`` strictly."""
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules

    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None  # the file replaces every weight
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmaction'):
        model = MODELS.build(cfg.model)
    expected = cfg.model.cls_head.num_classes
    got = state_dict['cls_head.fc_cls.weight'].shape[0]
    if expected != got:
        raise ValueError(
            f'the checkpoint has {got} classes, {config} expects {expected}')
    model.load_state_dict(state_dict, strict=True)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 1)[1])
    parser.add_argument('src', help='official video checkpoint')
    parser.add_argument('dst', help='where to write the converted file')
    parser.add_argument(
        '--config',
        help='recognizer config to check the result against (strict load, '
        'class count)')
    parser.add_argument(
        '--checkpoint-classes',
        nargs='+',
        metavar='FILE',
        help='label file(s) in the checkpoint\'s class order (official)')
    parser.add_argument(
        '--dataset-classes',
        nargs='+',
        metavar='FILE',
        help='label file(s) in your annotation lists\' class order '
        '(e.g. MMAction2 label_map_k400.txt)')
    parser.add_argument(
        '--exact-names',
        action='store_true',
        help='match class names exactly, without normalize_class_name()')
    args = parser.parse_args(argv)
    if bool(args.checkpoint_classes) != bool(args.dataset_classes):
        parser.error('--checkpoint-classes and --dataset-classes go together')
    if not osp.isfile(args.src):
        parser.error(f'{args.src!r} does not exist')
    if osp.abspath(args.src) == osp.abspath(args.dst):
        parser.error('write to a new file; the source is left as it is')

    remap = None
    try:
        if args.checkpoint_classes:
            remap = remap_from_label_files(
                args.checkpoint_classes,
                args.dataset_classes,
                normalize=not args.exact_names)
        state_dict = convert_slowfast_to_recognizer(
            load_checkpoint_file(args.src), remap)
        num_classes = state_dict['cls_head.fc_cls.weight'].shape[0]
        if args.config:
            _check_with_config(args.config, state_dict)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        # RuntimeError: load_state_dict's missing/unexpected/shape report
        parser.exit(1, f'error: {error}\n')
    meta = dict(
        source=osp.basename(args.src),
        converter='tools/checkpoint/convert_slowfast_video.py',
        num_classes=int(num_classes),
        class_order=('remapped from ' + ', '.join(
            map(osp.basename, args.checkpoint_classes)) + ' to ' + ', '.join(
                map(osp.basename, args.dataset_classes)))
        if remap is not None else 'official (not remapped)')
    torch.save(dict(state_dict=state_dict, meta=meta), args.dst)
    load_checkpoint_file(args.dst)  # proves the file loads weights-only
    moved = int((remap != torch.arange(len(remap))).sum()) if (
        remap is not None) else 0
    print(f'wrote {args.dst}: {len(state_dict) - 2} backbone tensors, a '
          f'{num_classes}-class head ({moved} rows moved by the remap)')


if __name__ == '__main__':
    sys.exit(main())
