"""What the inference demos (image_demo.py, pose_demo.py, video_demo.py)
share: finding the input files, the output folders, the drawing scale, the
COCO ground truth boxes, the drawing with an OpenMMLab visualizer and the
command line (inputs, then CONFIG, then the common options)."""
import argparse
import os
import os.path as osp
import sys
from typing import Callable, List, Optional, Sequence, Tuple, Union

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')
VIDEO_EXTS = ('.mp4', '.avi', '.mkv', '.webm', '.mov')


def list_inputs(inputs: Sequence[str],
                exts: Sequence[str],
                noun: str = 'image') -> List[str]:
    """The files of ``inputs`` (files, or directories searched one level
    deep for names ending in one of ``exts``), in order.

    Args:
        inputs: Files or directories.
        exts: Lower-case extensions a file in a directory must end with.
        noun: What the files are, for the errors. Defaults to ``'image'``.

    Returns:
        list[str]: The files.
    """
    files = []
    for path in inputs:
        if osp.isdir(path):
            files += sorted(
                osp.join(path, f) for f in os.listdir(path)
                if f.lower().endswith(tuple(exts)))
        elif osp.isfile(path):
            files.append(path)
        else:
            raise FileNotFoundError(f'no such {noun} or directory: {path}')
    if not files:
        raise FileNotFoundError(f'no {noun}s found in {list(inputs)}')
    return files


def output_dirs(out_dir: str) -> Tuple[str, str]:
    """Create and return ``out_dir/vis`` (drawings) and ``out_dir/preds``
    (predictions)."""
    vis_dir = osp.join(out_dir, 'vis')
    pred_dir = osp.join(out_dir, 'preds')
    os.makedirs(vis_dir, exist_ok=True)
    os.makedirs(pred_dir, exist_ok=True)
    return vis_dir, pred_dir


def vis_scale_of(shape: Sequence[int], vis_scale: Union[int, str]) -> int:
    """Integer upscaling for drawing: 'auto' makes the short side >= 384 px
    so that labels and outlines stay readable on small images."""
    if vis_scale == 'auto':
        return max(1, -(-384 // max(min(shape[:2]), 1)))
    return max(1, int(vis_scale))


def coco_boxes_xyxy(anns: Sequence[dict]):
    """The ``bbox`` (x, y, w, h) of COCO annotations as an (N, 4) float32
    array of x1, y1, x2, y2."""
    import numpy as np
    boxes = np.array([a['bbox'] for a in anns], np.float32).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def draw_sample(visualizer, path: str, vis_scale: Union[int, str],
                out_file: str, build: Callable, **kwargs) -> None:
    """Draw a data sample on the image at ``path``, upscaled for reading
    (:func:`vis_scale_of`), into ``out_file`` with an OpenMMLab visualizer.

    Args:
        visualizer: The inferencer's visualizer.
        path (str): The image.
        vis_scale (int | str): The upscaling, or ``'auto'``.
        out_file (str): The drawing.
        build (callable): ``build(scale)`` -> the data sample, its
            coordinates multiplied by ``scale``; its ``gt_*`` fields, if
            any, are drawn on the left.
        **kwargs: The visualizer's ``add_datasample`` options.
    """
    import mmcv
    img = mmcv.imread(path, channel_order='rgb')
    scale = vis_scale_of(img.shape, vis_scale)
    sample = build(scale)
    visualizer.add_datasample(
        osp.basename(path),
        mmcv.imrescale(img, scale) if scale > 1 else img,
        sample,
        draw_gt=any(k.startswith('gt_') for k in sample.keys()),
        draw_pred=True,
        out_file=out_file,
        **kwargs)


def demo_parser(
        description: str,
        metavar: str,
        weights_example: str,
        out_dir: str,
        gt_help: str,
        vis_scale: Union[int, str] = 'auto') -> argparse.ArgumentParser:
    """A parser with the options every demo has: the inputs (``metavar``
    files or directories, then CONFIG), ``--weights``, ``--out-dir``,
    ``--gt`` (``gt_help`` says what it takes), ``--vis-scale`` (default
    ``vis_scale``: an int, or ``'auto'``, see :func:`vis_scale_of`) and
    ``--device``. Read it with :func:`parse_demo_args`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        'inputs',
        nargs='+',
        metavar=metavar,
        help=f'{metavar.lower()} files or directories, '
        'then CONFIG')
    parser.add_argument(
        '--weights',
        default=None,
        help='checkpoint read weights-only, e.g. '
        f'{weights_example}; omitted: random init')
    parser.add_argument('--out-dir', default=out_dir)
    parser.add_argument('--gt', default=None, help=gt_help)
    if vis_scale == 'auto':
        parser.add_argument(
            '--vis-scale',
            default='auto',
            help='upscale the drawings by this integer factor '
            '(auto: short side >= 384 px)')
    else:
        parser.add_argument(
            '--vis-scale',
            type=int,
            default=vis_scale,
            help='integer upscaling of the drawn frames')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--allow-partial-checkpoint',
        action='store_true',
        help='use weights that do not fit the model in full (missing, '
        'unexpected or other-shaped tensors) instead of refusing them')
    return parser


def refuse_partial_checkpoint(model, weights: Optional[str],
                              allow_partial_checkpoint: bool) -> None:
    """Refuse ``weights`` unless every tensor fits ``model``: the
    inferencers load non-strictly, so a wrong file would predict with
    random layers."""
    if weights is not None and not allow_partial_checkpoint:
        from uniformer_mm.checkpoints.finetune import check_checkpoint_fits
        check_checkpoint_fits(model, weights)


def parse_demo_args(parser: argparse.ArgumentParser,
                    metavar: str,
                    argv=None) -> argparse.Namespace:
    """Parse ``argv`` from a :func:`demo_parser`: the last input is the
    config (``args.config``). Warns on stderr without ``--weights``."""
    args = parser.parse_args(argv)
    if len(args.inputs) < 2:
        parser.error(f'give at least one {metavar} and a CONFIG')
    args.config = args.inputs.pop()
    if args.weights is None:
        print(
            'warning: no --weights; the model is randomly initialised',
            file=sys.stderr)
    return args


def run_kwargs(args: argparse.Namespace) -> dict:
    """The keyword arguments of every ``run_*_inference`` function, from a
    :func:`parse_demo_args` result."""
    return dict(
        config=args.config,
        weights=args.weights,
        out_dir=args.out_dir,
        device=args.device,
        ground_truth=args.gt,
        vis_scale=args.vis_scale,
        allow_partial_checkpoint=args.allow_partial_checkpoint)


def print_outputs(inputs: Sequence[str], vis_files: Sequence[str],
                  predictions: Sequence, describe: Callable,
                  out_dir: str) -> None:
    """One line per input: ``describe(prediction)`` and its drawing; then
    where the predictions are."""
    for item, vis, pred in zip(inputs, vis_files, predictions):
        print(f'{item}: {describe(pred)} -> {vis}')
    print(f'predictions in {osp.join(out_dir, "preds")}')
