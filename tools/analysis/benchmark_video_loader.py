"""Data-loader cost of one training clip, with and without repeated
augmentation, on a stand-in video made here (nothing is downloaded).

Writes a ``--seconds`` s ``--size`` H.264 clip at ``--fps`` with PyAV into a
temporary folder, builds the train dataset of ``--config`` (default: K400
UniFormer-S 16x4) on it, and times in this one process (one loader worker,
one thread):

* the decoder: MMAction2's ``PyAVDecode`` against ``CheckedPyAVDecode``
  (same frames), decoded frames per clip, and FFmpeg frame threading
  (``thread_type='AUTO'``, more than one thread) for reference;
* the whole pipeline per clip with ``RepeatAugVideoDataset`` at
  ``num_repeats`` 1 and 2: decode (once) and augmentation (per repeat),
  samples/s and clips/s per worker, and the cost of two repeats over one,
  for the loader now (``CheckedPyAVDecode`` seeking to an IDR frame,
  ``ClipRandAugment`` with its whole-clip ops) and before (decoding from
  the start, every RandAugment op per frame with PIL; the same pixels),
  and one repeat with MMAction2's decoder. ``--passes`` passes over the
  same seeded clips, variants alternating clip by clip: min and median of
  the per-pass means.

Each clip index is seeded the same way in every variant, so all variants
decode the same frames. Usage::

    python tools/analysis/benchmark_video_loader.py [--clips 20] [--passes 3]
"""
import argparse
import copy
import os
import os.path as osp
import random
import tempfile
import time

import numpy as np

DEFAULT_CONFIG = ('configs/video/uniformer-s_imagenet1k-pre_8xb4-16x4x1-'
                  '110e_kinetics400-rgb.py')


def write_clip(path: str, seconds: float, width: int, height: int,
               fps: int) -> int:
    """A textured scene panning under a moving disc (x264 defaults: B-frames,
    key frames by scene cut / every 250 frames). Returns the frame count."""
    import av
    import cv2
    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(
        rng.integers(0, 256, (2 * height, 2 * width, 3), dtype=np.uint8),
        (0, 0), 3)
    container = av.open(path, 'w')
    stream = container.add_stream('libx264', rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, 'yuv420p'
    count = int(seconds * fps)
    for t in range(count):
        y, x = (2 * t) % height, (3 * t) % width
        img = scene[y:y + height, x:x + width].copy()
        cv2.circle(img,
                   (int(width / 2 + width / 3 * np.sin(t / 10)), height // 2),
                   height // 8, (255, 0, 0), -1)
        for packet in stream.encode(
                av.VideoFrame.from_ndarray(img, format='rgb24')):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return count


class _CountingContainer:
    """A PyAV container that counts the frames it decodes."""

    def __init__(self, container, counter: list):
        self._container = container
        self._counter = counter

    def decode(self, *args, **kwargs):
        for frame in self._container.decode(*args, **kwargs):
            self._counter[0] += 1
            yield frame

    def __getattr__(self, name):
        return getattr(self._container, name)


def _seed(index: int) -> None:
    random.seed(index)
    np.random.seed(index)


def _time_decoders(dataset, clips: int) -> dict:
    """Median CPU and wall ms per clip and mean decoded frames per clip of
    each decoder (interleaved clip by clip, so that load from elsewhere
    hits all)."""
    from mmaction.datasets.transforms import PyAVDecode

    from uniformer_mm.datasets.transforms import CheckedPyAVDecode
    transforms = dataset.pipeline.transforms
    names = [type(t).__name__ for t in transforms]
    decode_at = next(i for i, n in enumerate(names) if n.endswith('Decode'))
    before = transforms[:decode_at]
    variants = {
        'PyAVDecode (MMAction2)':
        PyAVDecode(),
        'CheckedPyAVDecode, from the start':
        CheckedPyAVDecode(seek=False),
        'CheckedPyAVDecode (seeks to an IDR frame)':
        CheckedPyAVDecode(),
        'CheckedPyAVDecode, FFmpeg threads AUTO':
        CheckedPyAVDecode(multi_thread=True),
    }
    times = {label: [] for label in variants}
    cpu = {label: [] for label in variants}
    counts = {label: [0] for label in variants}
    for index in range(clips):
        digests = set()
        for label, decoder in variants.items():
            _seed(index)
            results = dataset.get_data_info(0)
            for transform in before:
                results = transform(results)
            results['video_reader'] = _CountingContainer(
                results['video_reader'], counts[label])
            start, start_cpu = time.perf_counter(), time.process_time()
            results = decoder(results)
            times[label].append(time.perf_counter() - start)
            cpu[label].append(time.process_time() - start_cpu)
            digests.add(hash(tuple(img.tobytes() for img in results['imgs'])))
        if len(digests) != 1:
            raise AssertionError('the decoders returned different frames')
    return {
        label:
        (1000 * float(np.median(cpu[label])),
         1000 * float(np.median(times[label])), counts[label][0] / clips)
        for label in variants
    }


def _time_repeats(variants: dict, clips: int, passes: int) -> dict:
    """CPU ms per clip (decode once, augment per repeat, and the wrapper's
    own ``__getitem__`` end to end) of each ``label: (dataset,
    num_repeats)``: the mean over the same ``clips`` seeded clips, in each
    of ``passes`` passes; the variants alternate clip by clip, so that load
    from elsewhere hits all. One thread: CPU time is the work of one loader
    worker. Returns ``{label: {key: [one value per pass]}}``."""
    from uniformer_mm.datasets.repeat_aug import RepeatAugVideoDataset
    wrappers = {
        label: RepeatAugVideoDataset(dataset, num_repeats=n)
        for label, (dataset, n) in variants.items()
    }
    runs = {label: dict(decode=[], augment=[], clip=[]) for label in wrappers}
    # the first (up to 10) clips of each, untimed: the one-time costs of a
    # process (OpenCV's first call of each filter, ~0.2 s) would otherwise
    # land on whichever variant draws an op first
    for index in range(min(clips, 10)):
        for wrapper in wrappers.values():
            _seed(index)
            wrapper[0]
    for _ in range(passes):
        times = {
            label: dict(decode=0.0, augment=0.0, clip=0.0)
            for label in wrappers
        }
        for index in range(clips):
            for label, wrapper in wrappers.items():
                n = wrapper.num_repeats
                _seed(index)
                start = time.process_time()
                decoded = wrapper.decode(wrapper.get_data_info(0))
                middle = time.process_time()
                for repeat in range(n):
                    results = (
                        decoded if repeat == n - 1 else copy.deepcopy(decoded))
                    wrapper.augment(results)
                end = time.process_time()
                _seed(index)
                assert len(wrapper[0]) == n
                times[label]['decode'] += middle - start
                times[label]['augment'] += end - middle
                times[label]['clip'] += time.process_time() - end
        for label in wrappers:
            for key, total in times[label].items():
                runs[label][key].append(1000 * total / clips)
    return runs


class _PILRandAugment:
    """``ClipRandAugment`` as before its whole-clip ops: every op on every
    frame with PIL (the same pixels)."""

    @staticmethod
    def wrap(transform):
        from uniformer_mm.datasets.rand_augment import (ClipRandAugment,
                                                        _apply_pil)

        class PILClipRandAugment(ClipRandAugment):

            def apply(self, frames, ops):
                return _apply_pil(frames, ops, self._ctx)

        new = copy.copy(transform)
        new.__class__ = PILClipRandAugment
        return new


def _before(dataset):
    """The dataset with the loader of before: decoding from the start and
    the per-frame PIL RandAugment (a shallow copy with its own
    pipeline)."""
    from mmengine.dataset import Compose

    from uniformer_mm.datasets.transforms import CheckedPyAVDecode
    new = copy.copy(dataset)
    steps = []
    for t in dataset.pipeline.transforms:
        name = type(t).__name__
        if name == 'CheckedPyAVDecode':
            t = CheckedPyAVDecode(
                on_error=t.on_error,
                multi_thread=t.multi_thread,
                mode=t.mode,
                seek=False)
        elif name == 'ClipRandAugment':
            t = _PILRandAugment.wrap(t)
        steps.append(t)
    new.pipeline = Compose(steps)
    return new


def _stats(values, digits: int = 1) -> str:
    return (f'{min(values):.{digits}f} / '
            f'{float(np.median(values)):.{digits}f}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CONFIG)
    parser.add_argument('--clips', type=int, default=20)
    parser.add_argument('--seconds', type=float, default=10)
    parser.add_argument('--size', default='456x256')
    parser.add_argument('--fps', type=int, default=30)
    parser.add_argument('--passes', type=int, default=3)
    args = parser.parse_args(argv)
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    import cv2
    import torch
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    from mmaction.registry import DATASETS

    import uniformer_mm  # noqa: F401  (registers the transforms)

    width, height = (int(v) for v in args.size.split('x'))
    cfg = Config.fromfile(args.config)
    leaf = copy.deepcopy(cfg.train_dataloader.dataset)
    leaf = leaf.get('dataset', leaf)  # inside RepeatAugVideoDataset
    with tempfile.TemporaryDirectory() as root:
        frames = write_clip(
            osp.join(root, 'clip.mp4'), args.seconds, width, height, args.fps)
        with open(osp.join(root, 'list.txt'), 'w') as f:
            f.write('clip.mp4 0\n')
        leaf.update(
            ann_file=osp.join(root, 'list.txt'), data_prefix=dict(video=root))
        with DefaultScope.overwrite_default_scope('mmaction'):
            dataset = DATASETS.build(leaf)
            print(f'config: {args.config}')
            print(f'clip: {args.seconds:g} s, {width}x{height}, {args.fps} '
                  f'fps H.264 ({frames} frames); {args.clips} clips per '
                  'figure')
            print(f'CPU: torch capability '
                  f'{torch.backends.cpu.get_cpu_capability()}, '
                  f'{os.cpu_count()} cores; threads: torch '
                  f'{torch.get_num_threads()}, OpenCV '
                  f'{cv2.getNumThreads()}, OMP_NUM_THREADS='
                  f'{os.environ.get("OMP_NUM_THREADS")}; load average '
                  f'{", ".join(f"{v:.2f}" for v in os.getloadavg())}')
            print('\n## decoder (same frames checked; median ms)')
            print(f'| {"decoder":42} | CPU ms/clip | wall ms/clip '
                  '| decoded frames/clip |')
            for label, (cpu_ms, ms,
                        count) in _time_decoders(dataset, args.clips).items():
                print(f'| {label:42} | {cpu_ms:11.1f} | {ms:12.1f} '
                      f'| {count:19.1f} |')
            print('\n## train pipeline per clip (one worker, one thread; '
                  f'CPU ms, mean of {args.clips} clips; min / median of '
                  f'{args.passes} passes)')
            print('| repeats | loader | decode ms | augment ms | ms/clip '
                  '| clips/s | samples/s |')
            print('| --: | :-- | --: | --: | --: | --: | --: |')
            # the loader before repeated augmentation: MMAction2's decoder
            # (our CheckedPyAVInit stays: the official frame sampling needs
            # the frame rate, which MMAction2's PyAVInit does not give)
            mmaction = copy.deepcopy(leaf)
            for step in mmaction.pipeline:
                if step['type'] == 'CheckedPyAVDecode':
                    step['type'] = 'PyAVDecode'
            mmaction = _before(DATASETS.build(mmaction))  # and PIL RA
            before = _before(dataset)
            labels = {
                (1, 'PyAVDecode, PIL RandAugment'): (mmaction, 1),
                (1, 'before (from start, PIL)'): (before, 1),
                (2, 'before (from start, PIL)'): (before, 2),
                (1, 'now (IDR seek, clip ops)'): (dataset, 1),
                (2, 'now (IDR seek, clip ops)'): (dataset, 2),
            }
            rows = _time_repeats(labels, args.clips, args.passes)
            for (n, label), r in rows.items():
                samples = [1000 * n / ms for ms in r['clip']]
                clips_s = [1000 / ms for ms in r['clip']]
                print(f'| {n} | {label} | {_stats(r["decode"])} | '
                      f'{_stats(r["augment"])} | {_stats(r["clip"])} | '
                      f'{max(clips_s):5.2f} / {np.median(clips_s):5.2f} | '
                      f'{max(samples):5.2f} / {np.median(samples):5.2f} |')
            print('\n(clips/s and samples/s: best / median pass)')
            for label in ('before (from start, PIL)',
                          'now (IDR seek, clip ops)'):
                ratios = [
                    b / a for a, b in zip(rows[(1, label)]['clip'], rows[(
                        2, label)]['clip'])
                ]
                print(f'{label}: two repeats cost {_stats(ratios, 2)}x one '
                      '(min / median over passes; target <= 1.35x)')
            print('load average after: '
                  f'{", ".join(f"{v:.2f}" for v in os.getloadavg())}')
    return rows


if __name__ == '__main__':
    main()
