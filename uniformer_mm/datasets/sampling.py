"""The clip sampling of the official Kinetics loader (SlowFast's PyAV path).

The official UniFormer video runs on Kinetics, UCF101 and HMDB51 read
videos with SlowFast's ``datasets/decoder.py``. It does not count frames of
the file as MMAction2's ``SampleFrames`` does:

* a clip spans ``frame_interval * clip_len`` frames *at 30 fps*
  (``DATA.TARGET_FPS``): on a 25 fps video, 53.3 frames of the file, not
  64, so a clip always covers the same time;
* training draws the clip start uniformly in ``[0, frames - span]``;
  testing with ``DATA.USE_OFFSET_SAMPLING True`` (set by every official
  Kinetics-loader run) starts clip ``k`` of ``n`` at
  ``k * floor((frames - span) / (n - 1))``, or the centre for one clip;
* the clip's ``clip_len`` frames are ``linspace(0, span - 1, clip_len)``
  truncated to integers, counted from the first frame decoded, and clamped
  to the frames decoded (a short video repeats its last frame; MMAction2
  loops it).

:class:`SlowFastSampleFrames` returns the same ``frame_inds`` and keys as
``SampleFrames``, so the decoders and the rest of the pipeline are
unchanged.
"""
import math

import numpy as np
import torch
from mmaction.datasets.transforms import SampleFrames
from mmaction.registry import TRANSFORMS


@TRANSFORMS.register_module()
class SlowFastSampleFrames(SampleFrames):
    """Clip indices as the official SlowFast Kinetics loader samples them.

    Needs ``results['avg_fps']`` (set by ``CheckedPyAVInit`` and
    ``DecordInit``) besides ``total_frames``.

    Args:
        clip_len (int): Frames per clip (``DATA.NUM_FRAMES``).
        frame_interval (int): Frames between two sampled frames at
            ``target_fps`` (``DATA.SAMPLING_RATE``). Defaults to 1.
        num_clips (int): Clips per video (``TEST.NUM_ENSEMBLE_VIEWS`` when
            testing). Defaults to 1.
        test_mode (bool): Deterministic starts (testing). Defaults to False.
        target_fps (float): The frame rate ``frame_interval`` counts at
            (``DATA.TARGET_FPS``). Defaults to 30.
        offset_sampling (bool): Test clips from the first to the last
            possible start (``DATA.USE_OFFSET_SAMPLING``, True in every
            official run of this loader); False: ``k * (frames - span) / n``.
            Defaults to True.
    """

    def __init__(self,
                 clip_len: int,
                 frame_interval: int = 1,
                 num_clips: int = 1,
                 test_mode: bool = False,
                 target_fps: float = 30,
                 offset_sampling: bool = True):
        super().__init__(
            clip_len,
            frame_interval=frame_interval,
            num_clips=num_clips,
            test_mode=test_mode)
        if not target_fps > 0:
            raise ValueError(f'target_fps must be > 0, got {target_fps!r}')
        self.target_fps = target_fps
        self.offset_sampling = offset_sampling

    def _start(self, delta: float, clip: int) -> float:
        """SlowFast's ``get_start_end_idx`` start of clip ``clip``."""
        if not self.test_mode:
            return np.random.uniform(0, delta)
        if not self.offset_sampling:
            return delta * clip / self.num_clips
        if self.num_clips == 1:
            return math.floor(delta / 2)
        return clip * math.floor(delta / (self.num_clips - 1))

    def clip_indices(self, total_frames: int, fps: float) -> np.ndarray:
        """The frame indices of all clips, (num_clips * clip_len,)."""
        span = self.frame_interval * self.clip_len / self.target_fps * fps
        delta = max(total_frames - span, 0)
        # within a clip, as SlowFast's temporal_sampling: a float32 linspace
        # over the span (clamped per clip below, then truncated)
        offsets = torch.linspace(0, span - 1, self.clip_len)
        clips = []
        for clip in range(self.num_clips):
            start = self._start(delta, clip)
            end = start + span - 1
            # the decoder keeps the frames from the first at or after
            # ``start`` to the last at or before ``end``, plus the one after
            first = min(math.ceil(start), total_frames - 1)
            last = min(math.floor(end) + 1, total_frames - 1)
            decoded = max(last - first + 1, 1)
            # then takes one centred clip of them (get_start_end_idx with one
            # clip: they are at most span + 1 frames, so it starts at the
            # first), the offsets clamped to the frames decoded
            index = offsets.clamp(0, decoded - 1).long().numpy()
            clips.append(first + index)
        return np.concatenate(clips).astype(np.int64)

    def transform(self, results: dict) -> dict:
        fps = results.get('avg_fps')
        if not fps:
            raise KeyError(
                'SlowFastSampleFrames needs results["avg_fps"], the video\'s '
                'frame rate: open videos with CheckedPyAVInit or DecordInit '
                'before it')
        inds = self.clip_indices(int(results['total_frames']), float(fps))
        results['frame_inds'] = inds + results.get('start_index', 0)
        results['clip_len'] = self.clip_len
        results['frame_interval'] = self.frame_interval
        results['num_clips'] = self.num_clips
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(clip_len={self.clip_len}, '
                f'frame_interval={self.frame_interval}, '
                f'num_clips={self.num_clips}, test_mode={self.test_mode}, '
                f'target_fps={self.target_fps}, '
                f'offset_sampling={self.offset_sampling})')
