"""What the inference demos (image_demo.py, pose_demo.py, video_demo.py)
share: finding the input files, the output folders, the drawing scale and
the command line (inputs, then CONFIG, then ``--weights``)."""
import argparse
import os
import os.path as osp
import sys
from typing import List, Sequence, Tuple, Union

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


def demo_parser(description: str, metavar: str, weights_example: str,
                out_dir: str) -> argparse.ArgumentParser:
    """A parser with the options every demo has: the inputs (``metavar``
    files or directories, then CONFIG), ``--weights`` and ``--out-dir``.
    Read it with :func:`parse_demo_args`."""
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
    return parser


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
