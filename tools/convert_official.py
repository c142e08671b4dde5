"""Convert any official UniFormer checkpoint into one our configs load.

Usage:
    python tools/convert_official.py IN OUT [--config CONFIG]
        [--label-map OFFICIAL_LIST [OFFICIAL_LIST2] DATASET_LIST]
        [--exact-names] [--cfg-options KEY=VALUE ...]

IN is any official file: ImageNet (incl. token labeling, layer scale,
hourglass), MMDetection 2.x Mask / Cascade Mask R-CNN, MMSegmentation 0.x
FPN / UperNet, MMPose 0.x top-down, SlowFast video. The layout is detected,
the keys renamed to our OpenMMLab 2.0 models' names, and the result checked
against the model of CONFIG (by default the config this repository has for
the file): zero missing and zero unexpected keys, or an error naming them;
a video head whose class count is not the config's is refused, naming both.
OUT is a weights-only file ``{'state_dict', 'meta'}``, written to a new
path (IN is never overwritten):

* whole models: ``load_from=OUT`` (or ``tools/test.py CONFIG OUT``);
* ImageNet files: the backbone's initialisation,
  ``--cfg-options model.backbone.init_cfg.checkpoint=OUT``.

Video example (official Kinetics-400 file, MMAction2 annotation lists):

    python tools/convert_official.py \\
        checkpoints/uniformer_small_k400_16x4.pth \\
        checkpoints/uniformer-s_16x4_k400_mmaction.pth \\
        --config configs/video/uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_kinetics400-rgb.py \\  # noqa: E501
        --label-map kinetics_400_categroies.txt label_map_k400.txt

``--label-map`` (alias ``--kinetics-label-map``) permutes a video
classifier's rows from the official class order to the dataset's, matching
classes by name (ignoring case, ``_``, brackets and quotes unless
``--exact-names``): first the label list(s) of the checkpoint's order (the
official Kinetics-600 order is two files: give both), last the dataset's
(MMAction2's ``label_map_k400.txt``, ``sthv2/label_map.txt`` ...). It works
for any video dataset whose official order differs (Kinetics-400/600,
Something-Something V1/V2). Without it the official order is kept -- right
only if your annotation lists were made from the official label files.
"""
import argparse
import sys

from mmengine.config import DictAction

from uniformer_mm.checkpoints import CheckpointRefusedError
from uniformer_mm.checkpoints.convert import ConversionError
# the conversion itself; suggest_config is used by the tests through here
from uniformer_mm.checkpoints.official import suggest_config  # noqa: F401
from uniformer_mm.checkpoints.official import convert


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert an official UniFormer checkpoint for our configs',
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split('\n\n', 2)[2])
    parser.add_argument('input', help='the official checkpoint')
    parser.add_argument('output', help='where to write the converted file')
    parser.add_argument(
        '--config',
        help='the config the output is for (default: the one this '
        'repository has for the file, when it can be told)')
    parser.add_argument(
        '--label-map',
        '--kinetics-label-map',
        dest='label_map',
        nargs='+',
        metavar='FILE',
        help='video only: the label list(s) in the checkpoint\'s (official) '
        'class order, then the dataset\'s label list; the classifier rows '
        'are permuted to the dataset\'s order (any video dataset: Kinetics, '
        'Something-Something ...)')
    parser.add_argument(
        '--exact-names',
        action='store_true',
        help='with --label-map: match class names exactly, not after '
        'normalize_class_name() (case, _, brackets, quotes)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value')
    return parser.parse_args(argv)


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
        print(f"config:     {summary['config']}" +
              (f" ({summary['why']})" if summary.get('why') else ''))
    print(f"tensors:    {summary['tensors']} converted; missing "
          f"{summary['missing']}, unexpected {summary['unexpected']}")
    if summary.get('classes'):
        print(f"classes:    {summary['classes']}")
    if summary.get('dropped'):
        print(f"dropped:    {len(summary['dropped'])} tensors the target "
              f"does not have: {', '.join(summary['dropped'][:8])}" +
              (' ...' if len(summary['dropped']) > 8 else ''))
    if summary.get('not_in_file'):
        print(f"initialised: {', '.join(summary['not_in_file'])} are not "
              'in ImageNet files and keep their initial values')
    print(f"wrote:      {args.output}")
    print(f"use:        {summary['use']}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
