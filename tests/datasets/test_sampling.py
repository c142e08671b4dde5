"""SlowFastSampleFrames against the official loader's computation.

``_official_frame_inds`` transcribes SlowFast's ``datasets/decoder.py``
(``get_start_end_idx``, ``pyav_decode_stream``'s selection by presentation
timestamp with its one frame past the end, ``temporal_sampling``) for a
constant-frame-rate video whose frame ``i`` has timestamp ``i * tb``; it
returns the index of each sampled frame in the file.
"""
import math
import random

import numpy as np
import pytest
import torch

from uniformer_mm.datasets.sampling import SlowFastSampleFrames


def _get_start_end_idx(video_size, clip_size, clip_idx, num_clips,
                       use_offset, rng=None):
    delta = max(video_size - clip_size, 0)
    if clip_idx == -1:
        start_idx = rng.uniform(0, delta)
    elif use_offset:
        if num_clips == 1:
            start_idx = math.floor(delta / 2)
        else:
            start_idx = clip_idx * math.floor(delta / (num_clips - 1))
    else:
        start_idx = delta * clip_idx / num_clips
    return start_idx, start_idx + clip_size - 1


def _official_frame_inds(frames_length, fps, sampling_rate, num_frames,
                         clip_idx, num_clips, use_offset=True, tb=512,
                         rng=None):
    clip_sz = sampling_rate * num_frames / 30 * fps
    start_idx, end_idx = _get_start_end_idx(frames_length, clip_sz, clip_idx,
                                            num_clips, use_offset, rng)
    timebase = frames_length * tb / frames_length
    start_pts, end_pts = int(start_idx * timebase), int(end_idx * timebase)
    decoded = []
    for i in range(frames_length):  # pyav_decode_stream, buffer_size 0
        pts = i * tb
        if pts < start_pts:
            continue
        decoded.append(i)
        if pts > end_pts:
            break
    start_idx, end_idx = _get_start_end_idx(
        len(decoded), clip_sz, 0, 1, use_offset)
    index = torch.linspace(start_idx, end_idx, num_frames)
    index = torch.clamp(index, 0, len(decoded) - 1).long()
    return [decoded[i] for i in index.tolist()]


CASES = [
    # frames, fps, sampling rate, frames per clip
    (300, 30.0, 4, 16),
    (250, 25.0, 4, 16),
    (250, 25.0, 8, 16),
    (600, 59.94, 4, 32),
    (40, 30.0, 4, 16),  # shorter than a clip: the last frame repeats
    (97, 24.0, 8, 8),
]


@pytest.mark.parametrize('total, fps, rate, length', CASES)
@pytest.mark.parametrize('num_clips', [1, 4])
@pytest.mark.parametrize('offset', [True, False])
def test_test_clips_are_the_official_frames(total, fps, rate, length,
                                            num_clips, offset):
    sampler = SlowFastSampleFrames(
        length, rate, num_clips=num_clips, test_mode=True,
        offset_sampling=offset)
    results = sampler(dict(total_frames=total, avg_fps=fps, start_index=0))
    want = sum((_official_frame_inds(total, fps, rate, length, k, num_clips,
                                     offset) for k in range(num_clips)), [])
    assert results['frame_inds'].tolist() == want
    assert results['clip_len'] == length and results['num_clips'] == num_clips


@pytest.mark.parametrize('total, fps, rate, length', CASES)
def test_training_clips_are_the_official_frames(total, fps, rate, length,
                                                monkeypatch):
    """The same random start in both (the official code draws it with
    ``random.uniform``, MMAction2 transforms with NumPy)."""
    for seed in range(20):
        rng = random.Random(seed)
        want = _official_frame_inds(total, fps, rate, length, -1, 1,
                                    rng=rng)
        rng = random.Random(seed)
        monkeypatch.setattr(np.random, 'uniform',
                            lambda low, high: rng.uniform(low, high))
        got = SlowFastSampleFrames(length, rate)(
            dict(total_frames=total, avg_fps=fps))['frame_inds']
        assert got.tolist() == want, seed


def test_a_clip_covers_the_same_time_at_any_frame_rate():
    """16 x 4 frames at 30 fps span 2.1 s: 53 frames of a 25 fps file, 64 of
    a 30 fps one (SampleFrames would take 61 frames of either)."""
    sample = SlowFastSampleFrames(16, 4, test_mode=True)
    at_25 = sample(dict(total_frames=53, avg_fps=25.0))['frame_inds']
    at_30 = sample(dict(total_frames=64, avg_fps=30.0))['frame_inds']
    assert at_25[-1] == 52 and at_30[-1] == 63
    assert (np.diff(at_25) >= 3).all() and (np.diff(at_30) >= 4).all()


def test_needs_the_frame_rate():
    with pytest.raises(KeyError, match='CheckedPyAVInit or DecordInit'):
        SlowFastSampleFrames(16, 4)(dict(total_frames=100))
    with pytest.raises(ValueError, match='target_fps'):
        SlowFastSampleFrames(16, 4, target_fps=0)


@pytest.mark.parametrize('fps', [8, 25])
def test_checked_pyav_init_gives_the_frame_rate(tmp_path, fps):
    from uniformer_mm.datasets.synthetic_video import draw_clip, write_video
    from uniformer_mm.datasets.transforms import CheckedPyAVInit
    frames, _ = draw_clip(0, 'train', 1, 12, 32)
    path = str(tmp_path / 'clip.mp4')
    write_video(path, frames, fps)
    results = CheckedPyAVInit()(dict(filename=path, start_index=0))
    assert results['avg_fps'] == fps and results['total_frames'] == 12
    inds = SlowFastSampleFrames(4, 2, test_mode=True)(results)['frame_inds']
    # 4 frames every 2nd at 30 fps span 8/30 s: at 8 fps 2.13 frames, the
    # one test clip starts at floor((12 - 2.13) / 2) = 4, offsets
    # linspace(0, 1.13, 4) -> 0 0 0 1; at 25 fps 6.67 frames, start
    # floor(5.33 / 2) = 2, linspace(0, 5.67, 4) -> 0 1 3 5
    assert inds.tolist() == ([4, 4, 4, 5] if fps == 8 else [2, 3, 5, 7])
