"""Deterministic synthetic videos for the video demo: a shape that moves
left, right, up or down over a textured background, written as real
``.mp4`` files (MPEG-4 video, encoded with PyAV) with an MMAction2
annotation list.

Layout (generated on first use; nothing is downloaded or committed)::

    ROOT/videos/train/000000.mp4 ...   ROOT/videos/val/000000.mp4 ...
    ROOT/train_list.txt                ROOT/val_list.txt
    ROOT/manifest.json

Each line of a list is ``<path relative to ROOT> <label>`` (MMAction2's
``VideoDataset`` format with ``data_prefix=dict(video=ROOT)``); labels index
:data:`VIDEO_CLASSES`. Video ``i`` of a split has label ``i % 4``, so the
classes are balanced.

**One frame cannot tell the classes apart.** Every clip is drawn from
parameters that do not depend on its label: a shape (circle, square or
triangle, random size, a bright random colour), up to two static
distractors, a darkened background, per-frame noise, and a path between two
points on the motion axis. The
label only picks the axis (horizontal for left/right, vertical for up/down)
and the direction: a ``left`` clip is exactly the ``right`` clip of the same
stream played backwards (before compression), and ``up`` is reversed
``down``. So any single frame -- indeed the unordered set of all frames --
is equally likely under both classes of a pair; a model that ignores frame
order is at chance between them and must model time to separate them.

The mover is always brighter than the background: with either contrast
polarity allowed, the tiny demo model stayed at chance for 300 iterations;
with one it learns in about 100.

Clips come from their own RNG streams ``(seed, split, index)``, so the data
is reproducible and independent of how many clips are asked for. Colour
conversion and encoder run on one thread, with bit-exact muxing, so the same
PyAV build writes byte-identical files. Generation is idempotent in the same
way as :mod:`.synthetic`: ``manifest.json`` records the parameters, the same
call again does nothing, different parameters regenerate the directory, and
the output is written to a temporary sibling directory and moved into
place.

CLI::

    python -m uniformer_mm.datasets.synthetic_video --out data/synthetic_video
"""
import argparse
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from .generated import generator_params, rng_stream
from .synthetic import (_SPLIT_CODE, SHAPE_CLASSES, _background, _generate,
                        _polygon, _splits)

#: the motion directions, in label order (image coordinates: y grows down)
VIDEO_CLASSES: Tuple[str, ...] = ('left', 'right', 'up', 'down')
DEFAULT_VIDEO_ROOT = osp.join('data', 'synthetic_video')
# part of the manifest's parameters: bump when the drawing or encoding
# changes, so existing data sets are regenerated
VIDEO_FORMAT_VERSION = 3

VIDEO_DEFAULTS = dict(
    num_train=800, num_val=200, num_frames=16, image_size=64, seed=2, fps=8)

# sub-pixel precision of cv2.fillPoly: smooth motion at any speed
_SHIFT = 4


def _fill(img: np.ndarray, vertices: np.ndarray, centre: Sequence[float],
          colour: np.ndarray) -> None:
    pts = np.round((vertices + np.asarray(centre)) * (1 << _SHIFT))
    cv2.fillPoly(
        img, [pts.astype(np.int32)],
        colour.tolist(),
        lineType=cv2.LINE_AA,
        shift=_SHIFT)


def draw_clip(seed: int,
              split: str,
              index: int,
              num_frames: int,
              image_size: int,
              label: Optional[int] = None) -> Tuple[np.ndarray, int]:
    """Draw one clip (before encoding).

    Args:
        seed (int): Base seed of the data set.
        split (str): ``'train'`` or ``'val'``.
        index (int): Clip index within the split; with ``seed`` and
            ``split`` it selects the RNG stream.
        num_frames (int): Frames of the clip.
        image_size (int): Square frame side in pixels.
        label (int, optional): Force the direction (index into
            :data:`VIDEO_CLASSES`) without changing anything else of the
            clip. Defaults to None: ``index % 4``.

    Returns:
        tuple: ``frames`` (T x H x W x 3 uint8, RGB) and ``label``.
    """
    label = index % len(VIDEO_CLASSES) if label is None else int(label)
    if not 0 <= label < len(VIDEO_CLASSES):
        raise ValueError(f'label must be in [0, {len(VIDEO_CLASSES)}), got '
                         f'{label}')
    # every draw below is independent of the label (see the module doc)
    rng = rng_stream(seed, _SPLIT_CODE[split], index)
    size = image_size
    # a darkened background and a bright mover: a motion of constant
    # contrast polarity, which a small network picks up much sooner than
    # motion of either polarity (distractors may have any colour)
    background = 0.5 * _background(rng, size)
    radius = rng.uniform(0.10, 0.17) * size
    margin = radius + 1
    # the path along the motion axis: at least half the free range
    travel = rng.uniform(0.5, 1.0) * (size - 2 * margin)
    start = rng.uniform(margin, size - margin - travel)
    across = rng.uniform(margin, size - margin)
    shape = int(rng.integers(len(SHAPE_CLASSES)))
    vertices = _polygon(rng, shape, 0.0, 0.0, radius)  # around the origin
    # static distractors: shapes of the same kinds that never move
    distractors = []
    for _ in range(int(rng.integers(0, 3))):
        r = rng.uniform(0.07, 0.12) * size
        k = int(rng.integers(len(SHAPE_CLASSES)))
        distractors.append(
            (_polygon(rng, k, 0.0, 0.0,
                      r), rng.uniform(r, size - r, 2), rng.uniform(0, 255, 3)))
    colour = rng.uniform(150, 255, 3)
    noise = rng.normal(0, 4, (num_frames, size, size, 3)).astype(np.float32)

    base = background.copy()
    for verts, centre, dcolour in distractors:
        _fill(base, verts, centre, dcolour)
    horizontal = VIDEO_CLASSES[label] in ('left', 'right')
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        along = start + travel * t / max(num_frames - 1, 1)
        centre = (along, across) if horizontal else (across, along)
        img = base.copy()
        _fill(img, vertices, centre, colour)
        frames[t] = np.clip(np.round(img + noise[t]), 0, 255)
    if VIDEO_CLASSES[label] in ('left', 'up'):
        frames = frames[::-1].copy()  # the same clip, played backwards
    return frames, label


def write_video(path: str,
                frames: np.ndarray,
                fps: int = 8,
                codec: str = 'mpeg4') -> None:
    """Encode RGB frames (T x H x W x 3 uint8, even H and W) into ``path``.

    Args:
        path (str): Output file; the container follows its extension.
        frames (np.ndarray): The frames, RGB.
        fps (int): Frame rate. Defaults to 8.
        codec (str): An encoder of PyAV's FFmpeg. Defaults to ``'mpeg4'``
            (MPEG-4 Part 2 at 1 Mbit/s, visually lossless at these sizes),
            whose output is the same byte for byte on every run.
            ``'libx264'`` (H.264, CRF 18) also works, but PyAV 18's x264
            gave different bytes from run to run now and then, even on one
            thread.
    """
    import av
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError('frames must be T x H x W x 3 uint8, got '
                         f'{frames.shape} {frames.dtype}')
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f'yuv420p needs even frame sides, got {width}x'
                         f'{height}')
    # bitexact: no creation time in the header, which would vary by run
    with av.open(
            path, 'w', container_options={'fflags': '+bitexact'}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = 'yuv420p'
        # one thread: the same bytes on every run
        stream.codec_context.thread_count = 1
        if codec == 'libx264':
            stream.options = {'crf': '18', 'preset': 'medium'}
        else:
            stream.codec_context.bit_rate = 1_000_000
        for frame in frames:
            # convert here, on one thread: swscale's automatic threading
            # (also inside encode()) gave different bytes from run to run
            yuv = av.VideoFrame.from_ndarray(
                frame, format='rgb24').reformat(
                    format='yuv420p', threads=1)
            for packet in stream.encode(yuv):
                container.mux(packet)
        for packet in stream.encode():  # flush
            container.mux(packet)


def make_video_dataset(root: str = DEFAULT_VIDEO_ROOT,
                       verbose: bool = True,
                       **params) -> str:
    """Generate (once) the motion-direction video set as ``.mp4`` files.

    Args:
        root (str): Output directory. Defaults to ``data/synthetic_video``.
        verbose (bool): Log what was done. Defaults to True.
        **params: Overrides of :data:`VIDEO_DEFAULTS`:
            ``num_train`` / ``num_val``: videos per split (800 / 200);
            ``num_frames``: frames per video (>= 2; 16);
            ``image_size``: square frame side in pixels (even, >= 32; 64);
            ``seed``: base seed, every clip has its own stream (seed, split,
            index; 2);
            ``fps``: frame rate written into the files (8).

    Returns:
        str: ``root``.
    """
    params = dict(
        generator_params(VIDEO_DEFAULTS, params, 'make_video_dataset'),
        format_version=VIDEO_FORMAT_VERSION)
    if params['num_train'] < 1 or params['num_val'] < 1:
        raise ValueError('num_train and num_val must be >= 1')
    if params['num_frames'] < 2:
        raise ValueError('num_frames must be >= 2 (motion needs two frames),'
                         f' got {params["num_frames"]}')
    if params['image_size'] < 32 or params['image_size'] % 2:
        raise ValueError('image_size must be even and >= 32 (video with '
                         f'yuv420p), got {params["image_size"]}')
    if params['fps'] < 1:
        raise ValueError(f'fps must be >= 1, got {params["fps"]}')

    def writer(tmp):
        files, stats = [], {}
        for split, num in _splits(params, 'train', 'val').items():
            video_dir = osp.join('videos', split)
            os.makedirs(osp.join(tmp, video_dir))
            lines, counts = [], [0] * len(VIDEO_CLASSES)
            for i in range(num):
                frames, label = draw_clip(params['seed'], split, i,
                                          params['num_frames'],
                                          params['image_size'])
                rel = osp.join(video_dir, f'{i:06d}.mp4')
                write_video(osp.join(tmp, rel), frames, params['fps'])
                lines.append(f'{rel} {label}\n')
                counts[label] += 1
            ann = f'{split}_list.txt'
            with open(osp.join(tmp, ann), 'w') as f:
                f.writelines(lines)
            files += [ann, video_dir]
            stats[split] = dict(
                videos=num, per_class=dict(zip(VIDEO_CLASSES, counts)))
        return files, stats

    return _generate(root, 'video', params, writer, verbose)


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description='Generate the synthetic motion-direction video set '
        '(idempotent: nothing is done when OUT already holds it).')
    parser.add_argument('--out', default=DEFAULT_VIDEO_ROOT)
    for key in VIDEO_DEFAULTS:
        parser.add_argument(
            '--' + key.replace('_', '-'),
            type=int,
            default=VIDEO_DEFAULTS[key])
    args = parser.parse_args(argv)
    make_video_dataset(args.out,
                       **{k: getattr(args, k)
                          for k in VIDEO_DEFAULTS})


if __name__ == '__main__':
    main()
