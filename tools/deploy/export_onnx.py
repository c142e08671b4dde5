"""Export a config's model to ONNX and check it in ONNX Runtime.

Usage:
    python tools/deploy/export_onnx.py CONFIG CHECKPOINT --out FILE \
        [--shape H W | T H W] [--batch N] [--dynamic] [--backbone-only] \
        [--verify]

CHECKPOINT may be ``none`` (random weights, e.g. to try a config). What is
exported: a segmentor's logits at 1/4 size, a pose estimator's heatmaps, a
recognizer's class scores (before softmax) per clip, a two-stage detector's
detections with their post-processing (``dets``, ``labels``, ``masks``: see
:mod:`uniformer_mm.deploy.detector`), or with ``--backbone-only`` every
output of the backbone. The graph input ``input``
is the normalised image batch (N, 3, H, W) or clip batch (N, 3, T, H, W):
the data preprocessor (mean/std, padding) is not part of the graph.
``--dynamic`` makes batch, (frames,) height and width dynamic. ``--verify``
runs the file in ONNX Runtime at the export size and at one other size and
prints the largest relative difference to PyTorch (detectors: the
detection counts, the fraction of equal labels and the largest box, score
and mask differences).
"""
import argparse
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config

from uniformer_mm.analysis.build import build_model_from_config
from uniformer_mm.deploy import (DetectorOutputs, NotExportableError,
                                 export_module, export_onnx, format_figures,
                                 verify_detector, verify_onnx)

DEFAULT_SHAPE = {2: (224, 224), 3: (8, 224, 224)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Export a uniformer_mm model to ONNX')
    parser.add_argument('config')
    parser.add_argument('checkpoint', help="weights file, or 'none'")
    parser.add_argument('--out', required=True, help='the .onnx file')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        help='export size: H W (images) or '
        'T H W (videos); default 224 224 / 8 224 224')
    parser.add_argument(
        '--batch', type=int, default=2, help='export batch size (default 2)')
    parser.add_argument(
        '--dynamic',
        action='store_true',
        help='dynamic batch, (frames,) height and width')
    parser.add_argument(
        '--backbone-only',
        action='store_true',
        help='export every output of the backbone only')
    parser.add_argument(
        '--verify',
        action='store_true',
        help='compare ONNX Runtime with PyTorch')
    return parser.parse_args(argv)


def other_size(shape, dynamic: bool):
    """A second input size for --verify (the export size when fixed)."""
    if not dynamic:
        return tuple(shape)
    *time, h, w = shape
    return (*time, h + 32, w + 64)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    model, scope = build_model_from_config(cfg)
    if args.checkpoint.lower() != 'none':
        from mmengine.runner import load_checkpoint
        load_checkpoint(model, args.checkpoint, map_location='cpu')
    ndim = 3 if scope == 'mmaction' else 2
    shape = tuple(args.shape or DEFAULT_SHAPE[ndim])
    if len(shape) != ndim:
        sys.exit(f'error: a {"video" if ndim == 3 else "image"} model needs '
                 f'--shape {"T H W" if ndim == 3 else "H W"}, got '
                 f'{list(shape)}')
    try:
        module = export_module(model, args.backbone_only)
    except NotImplementedError as error:
        sys.exit(f'error: {error}')
    sample = torch.randn(args.batch, 3, *shape)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    try:
        export_onnx(module, sample, args.out, dynamic=args.dynamic)
    except NotExportableError as error:
        sys.exit(f'error: {error}')
    print(f'wrote {args.out}')
    if args.verify:
        sizes = [shape, other_size(shape, args.dynamic)]
        batches = [args.batch, 1 if args.dynamic else args.batch]
        inputs = [torch.randn(n, 3, *s) for n, s in zip(batches, sizes)]
        if isinstance(module, DetectorOutputs):
            for x, figures in zip(inputs,
                                  verify_detector(module, args.out, inputs)):
                print(f'verify: input {tuple(x.shape)}: '
                      f'{format_figures(figures)}')
            return 0
        for x, err in zip(inputs, verify_onnx(module, args.out, inputs)):
            print(f'verify: input {tuple(x.shape)}: max relative '
                  f'difference ONNX Runtime vs PyTorch {err:.2e}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
