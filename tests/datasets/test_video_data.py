"""The synthetic video set and the video loading of the demo config: real
.mp4 files decoded with PyAV through MMAction2's pipeline; short clips,
empty and corrupt files."""
import hashlib
import logging
import multiprocessing
import os
import os.path as osp
import queue
from pathlib import Path

import numpy as np
import pytest
from mmaction.datasets.transforms import PyAVDecode, PyAVInit, SampleFrames
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

from uniformer_mm.datasets import prepare_synthetic_data
from uniformer_mm.datasets.synthetic_video import (VIDEO_CLASSES, draw_clip,
                                                   make_video_dataset,
                                                   write_video)
from uniformer_mm.datasets.transforms import (CheckedPyAVDecode,
                                              CheckedPyAVInit,
                                              UnreadableVideoError)

ROOT = Path(__file__).resolve().parents[2]
VIDEO_CFG = ROOT / 'configs/video/demo/uniformer3d-tiny_synthetic-video.py'
SMALL = dict(
    num_train=8, num_val=4, num_frames=8, image_size=64, verbose=False)
TIMEOUT_S = 60


def _digest(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            rel = osp.relpath(osp.join(dirpath, f), root)
            if rel != 'manifest.json':
                with open(osp.join(dirpath, f), 'rb') as fh:
                    out[rel] = hashlib.sha1(fh.read()).hexdigest()
    return out


def _decode(path):
    import av
    with av.open(path) as container:
        return np.stack(
            [f.to_ndarray(format='rgb24') for f in container.decode(video=0)])


def _in_child(fn, timeout=TIMEOUT_S):
    """Run ``fn()`` in a forked process; fail the test if it does not finish
    within ``timeout`` s (a hang), else return ('ok', value) or ('error',
    'Type: message')."""
    ctx = multiprocessing.get_context('fork')
    results = ctx.Queue()

    def target():
        # no thread pools inherited half-way through a fork (OpenMP,
        # OpenCV), as MMEngine sets up its dataloader workers
        import cv2
        import torch
        cv2.setNumThreads(0)
        torch.set_num_threads(1)
        try:
            results.put(('ok', fn()))
        except BaseException as err:  # report anything, in the parent
            results.put(('error', f'{type(err).__name__}: {err}'))

    proc = ctx.Process(target=target)
    proc.start()
    try:
        outcome = results.get(timeout=timeout)
    except queue.Empty:
        proc.kill()
        proc.join()
        pytest.fail(f'no result within {timeout} s: the decode hangs')
    proc.join(timeout)
    return outcome


@pytest.fixture(scope='module')
def video_root(tmp_path_factory):
    return make_video_dataset(
        str(tmp_path_factory.mktemp('video') / 'd'), **SMALL)


# ----------------------------------------------------------------- data set
def test_layout_list_and_decoded_frames(video_root):
    with open(osp.join(video_root, 'train_list.txt')) as f:
        lines = [line.split() for line in f]
    assert [p for p, _ in lines
            ] == [f'videos/train/{i:06d}.mp4' for i in range(8)]
    labels = [int(label) for _, label in lines]
    assert labels == [i % len(VIDEO_CLASSES) for i in range(8)]
    frames = _decode(osp.join(video_root, lines[1][0]))
    assert frames.shape == (8, 64, 64, 3)
    # the file holds the drawn clip, up to MPEG-4 compression
    drawn, label = draw_clip(2, 'train', 1, 8, 64)
    assert label == 1
    assert np.abs(frames.astype(float) - drawn).mean() < 12


def test_deterministic_and_idempotent(tmp_path, video_root):
    again = make_video_dataset(str(tmp_path / 'again'), **SMALL)
    assert _digest(again) == _digest(video_root)  # byte for byte
    assert len(_digest(again)) == 2 + 8 + 4
    stamp = osp.getmtime(osp.join(again, 'manifest.json'))
    make_video_dataset(again, **SMALL)  # same parameters: nothing done
    assert osp.getmtime(osp.join(again, 'manifest.json')) == stamp
    make_video_dataset(again, **dict(SMALL, num_train=5))  # regenerated
    with open(osp.join(again, 'train_list.txt')) as f:
        assert len(f.readlines()) == 5
    other = make_video_dataset(str(tmp_path / 'other'), **dict(SMALL, seed=7))
    assert _digest(other) != _digest(video_root)


def test_one_frame_cannot_tell_the_direction():
    """The two classes of an axis are the same clip played backwards, so the
    set of frames (and so any single frame) is identical."""
    clips = {
        label: draw_clip(0, 'val', 3, 10, 48, label=label)[0]
        for label in range(len(VIDEO_CLASSES))
    }
    left, right, up, down = (
        clips[VIDEO_CLASSES.index(n)] for n in ('left', 'right', 'up', 'down'))
    np.testing.assert_array_equal(left, right[::-1])
    np.testing.assert_array_equal(up, down[::-1])
    assert not np.array_equal(left, right)  # but the order differs
    assert not np.array_equal(right, down)
    # the shape really moves: consecutive frames differ
    assert all(
        np.abs(right[t + 1].astype(int) - right[t]).sum() > 0
        for t in range(9))


def test_bad_parameters(tmp_path):
    with pytest.raises(ValueError, match='even'):
        make_video_dataset(str(tmp_path / 'a'), **dict(SMALL, image_size=33))
    with pytest.raises(ValueError, match='num_frames'):
        make_video_dataset(str(tmp_path / 'b'), **dict(SMALL, num_frames=1))


# ------------------------------------------------------ MMAction2 pipeline
def _cfg(root):
    cfg = Config.fromfile(str(VIDEO_CFG))
    cfg.synthetic_data.update(SMALL)
    cfg.synthetic_data.pop('verbose')
    prepare_synthetic_data(cfg, root, verbose=False)
    return cfg


def _dataset(cfg, split='val', ann_file=None):
    from mmaction.registry import DATASETS
    init_default_scope('mmaction')
    ds_cfg = cfg[f'{split}_dataloader'].dataset.copy()
    if ann_file is not None:
        ds_cfg.ann_file = ann_file
    return DATASETS.build(ds_cfg)


def test_config_decodes_real_videos_with_pyav(video_root):
    cfg = _cfg(video_root)
    # the decoder: MMAction2's PyAV transforms (our checked subclasses)
    types = [t.type for t in cfg.val_pipeline]
    assert types[0] == 'CheckedPyAVInit' and types[2] == 'CheckedPyAVDecode'
    assert issubclass(CheckedPyAVInit, PyAVInit)
    assert issubclass(CheckedPyAVDecode, PyAVDecode)
    val = _dataset(cfg)
    assert len(val) == 4
    sample = val[1]
    assert tuple(sample['inputs'].shape) == (1, 3, 8, 64, 64)  # NCTHW
    assert int(sample['data_samples'].gt_label) == 1
    # frames 0, 2, ..., 14 of the 8-frame video: repeat_last holds the
    # last one sampled inside it, 6
    frames = _decode(osp.join(video_root, 'videos/val/000001.mp4'))
    clip = sample['inputs'][0].permute(1, 2, 3, 0).numpy()  # T H W C, RGB
    np.testing.assert_array_equal(clip[:4], frames[[0, 2, 4, 6]])
    np.testing.assert_array_equal(clip[4:], frames[[6] * 4])
    train = _dataset(cfg, 'train')
    assert tuple(train[0]['inputs'].shape) == (1, 3, 8, 64, 64)


@pytest.mark.parametrize('mode', ['repeat_last', 'loop'])
def test_clip_shorter_than_clip_len(tmp_path, mode):
    """A 3-frame video for an 8-frame clip: SampleFrames' out-of-bound
    option fills it up; the demo config uses 'repeat_last' (the shape stops)
    because 'loop' makes it jump back and seem to move the other way."""
    drawn, _ = draw_clip(0, 'train', 1, 3, 32)
    path = str(tmp_path / 'short.mp4')
    write_video(path, drawn)
    frames = _decode(path)
    assert len(frames) == 3
    results = dict(filename=path, start_index=0, modality='RGB')
    results = CheckedPyAVInit()(results)
    assert results['total_frames'] == 3
    results = SampleFrames(
        clip_len=8, frame_interval=2, test_mode=True, out_of_bound_opt=mode)(
            results)
    results = CheckedPyAVDecode()(results)
    expected = {
        'repeat_last': [0, 2, 2, 2, 2, 2, 2, 2],
        'loop': [0, 2, 1, 0, 2, 1, 0, 2]
    }[mode]
    assert results['frame_inds'].tolist() == expected
    assert len(results['imgs']) == 8  # clip_len frames
    np.testing.assert_array_equal(np.stack(results['imgs']), frames[expected])
    cfg = Config.fromfile(str(VIDEO_CFG))
    sample_cfgs = [
        t for t in cfg.train_pipeline + cfg.val_pipeline
        if t.type == 'SampleFrames'
    ]
    assert {t.out_of_bound_opt for t in sample_cfgs} == {'repeat_last'}


def _bad_files(root):
    """An empty, a truncated and a garbage .mp4 next to the good ones."""
    bad = osp.join(root, 'videos', 'bad')
    os.makedirs(bad, exist_ok=True)
    with open(osp.join(root, 'videos/val/000001.mp4'), 'rb') as f:
        good = f.read()
    contents = {
        'empty.mp4':
        b'',
        'truncated.mp4':
        good[:len(good) // 2],
        'garbage.mp4':
        np.random.default_rng(0).integers(0, 256, 4096,
                                          dtype=np.uint8).tobytes(),
    }
    for name, data in contents.items():
        with open(osp.join(bad, name), 'wb') as f:
            f.write(data)
    return [f'videos/bad/{name}' for name in contents]


@pytest.mark.parametrize(
    'which', [0, 1, 2], ids=['empty', 'truncated', 'garbage'])
def test_unreadable_video_is_an_error_naming_the_file(video_root, tmp_path,
                                                      which):
    """val/test (on_error='raise'): a clear error, never a hang."""
    cfg = _cfg(video_root)
    bad = _bad_files(video_root)[which]
    ann = tmp_path / 'list.txt'
    ann.write_text(f'videos/val/000000.mp4 0\n{bad} 1\n')
    val = _dataset(cfg, 'val', str(ann))
    assert val[0]['inputs'].shape[2] == 8  # the good one loads

    kind, message = _in_child(lambda: val[1]['inputs'].shape)
    assert kind == 'error'
    assert message.startswith('UnreadableVideoError')
    assert osp.join(video_root, bad) in message  # names the file
    reason = ['empty (0 bytes)', 'cannot open it', 'cannot open it'][which]
    assert reason in message
    assert 'remove its line from the annotation list' in message  # the fix


def test_unreadable_videos_are_skipped_in_training(video_root, tmp_path):
    """train (on_error='skip'): one warning per bad file, another sample is
    drawn instead; also never a hang."""
    cfg = _cfg(video_root)
    bad = _bad_files(video_root)
    ann = tmp_path / 'list.txt'
    ann.write_text(''.join(f'{p} 0\n'
                           for p in bad) + 'videos/train/000003.mp4 3\n')
    train = _dataset(cfg, 'train', str(ann))

    def load_all_twice():
        messages = []

        class Collect(logging.Handler):

            def emit(self, record):
                messages.append(record.getMessage())

        MMLogger.get_current_instance().addHandler(Collect())
        labels = [
            int(train[i]['data_samples'].gt_label) for i in (0, 1, 2, 0, 1, 2)
        ]
        return labels, messages

    kind, value = _in_child(load_all_twice)
    assert kind == 'ok', value
    labels, messages = value
    assert labels == [3] * 6  # every bad index fell back to the good video
    skipped = [m for m in messages if 'skipped' in m]
    for path in bad:
        # once each, although each bad file was hit twice
        assert sum(osp.join(video_root, path) in m for m in skipped) == 1


def test_on_error_is_checked():
    with pytest.raises(ValueError, match="'raise', 'skip'"):
        CheckedPyAVInit(on_error='ignore')
    with pytest.raises(UnreadableVideoError, match='no such file'):
        CheckedPyAVInit()(dict(filename='/nonexistent/x.mp4'))


def test_decode_error_names_the_file(tmp_path):
    """A file whose header is intact but whose frame data is cut off opens,
    then fails to decode: also an error naming it."""
    import av
    drawn, _ = draw_clip(0, 'train', 2, 16, 64)
    path = str(tmp_path / 'faststart.mp4')
    # header (moov) first, so that a truncated file still opens
    with av.open(
            path, 'w', container_options={'movflags':
                                          '+faststart'}) as container:
        stream = container.add_stream('libx264', rate=8)
        stream.width = stream.height = 64
        stream.pix_fmt = 'yuv420p'
        for frame in drawn:
            yuv = av.VideoFrame.from_ndarray(
                frame, format='rgb24').reformat(format='yuv420p')
            for packet in stream.encode(yuv):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = Path(path).read_bytes()
    cut = str(tmp_path / 'cut.mp4')
    Path(cut).write_bytes(data[:data.find(b'mdat') + 2000])
    results = CheckedPyAVInit()(dict(filename=cut, start_index=0))
    assert results['total_frames'] == 16  # the header promises 16

    results = SampleFrames(
        clip_len=8, frame_interval=2, test_mode=True)(
            results)
    with pytest.raises(UnreadableVideoError, match='decoding failed') as e:
        CheckedPyAVDecode()(results)
    assert cut in str(e.value)
    results['video_reader'] = CheckedPyAVInit()(dict(
        filename=cut, start_index=0))['video_reader']
    assert CheckedPyAVDecode(on_error='skip')(results) is None


def _frame_folder(tmp_path, broken: dict):
    """Eight 8x8 JPEG frames img_00001.jpg ...; ``broken``: index -> bytes
    written instead of a JPEG."""
    import cv2
    folder = tmp_path / 'frames'
    folder.mkdir()
    for i in range(1, 9):
        path = folder / f'img_{i:05d}.jpg'
        if i in broken:
            path.write_bytes(broken[i])
        else:
            cv2.imwrite(str(path), np.full((8, 8, 3), 20 * i, np.uint8))
    return folder


def _frames_results(folder, inds):
    return dict(
        frame_dir=str(folder),
        filename_tmpl='img_{:05d}.jpg',
        modality='RGB',
        offset=1,
        frame_inds=np.array(inds))


def test_raw_frames_decode_as_upstream(tmp_path):
    from mmaction.datasets.transforms import RawFrameDecode

    from uniformer_mm.datasets.transforms import CheckedRawFrameDecode
    folder = _frame_folder(tmp_path, {})
    ours = CheckedRawFrameDecode()(_frames_results(folder, [0, 3, 3, 7]))
    theirs = RawFrameDecode()(_frames_results(folder, [0, 3, 3, 7]))
    assert len(ours['imgs']) == 4
    for a, b in zip(ours['imgs'], theirs['imgs']):
        np.testing.assert_array_equal(a, b)
    assert ours['img_shape'] == (8, 8)


@pytest.mark.parametrize('broken, reason', [
    (b'', '0 bytes'),
    (b'not a jpeg at all', '17 bytes'),
])
def test_unreadable_frame_is_named(tmp_path, broken, reason):
    from uniformer_mm.datasets.transforms import CheckedRawFrameDecode
    folder = _frame_folder(tmp_path, {5: broken})
    # frames 1 and 8 are fine; the sampled index 4 (+ offset 1) is broken
    with pytest.raises(UnreadableVideoError) as error:
        CheckedRawFrameDecode()(_frames_results(folder, [0, 4, 7]))
    message = str(error.value)
    assert f'frame {folder / "img_00005.jpg"} cannot be read ({reason}' \
        in message
    assert message.startswith(f'cannot read video {folder}')


def test_missing_frame_is_named_and_skipped_in_training(tmp_path):
    from uniformer_mm.datasets.transforms import CheckedRawFrameDecode
    folder = _frame_folder(tmp_path, {})
    (folder / 'img_00003.jpg').unlink()
    with pytest.raises(UnreadableVideoError, match='img_00003.jpg cannot be'
                       r' read \(FileNotFoundError'):
        CheckedRawFrameDecode()(_frames_results(folder, [1, 2]))
    skip = CheckedRawFrameDecode(on_error='skip')
    assert skip(_frames_results(folder, [1, 2])) is None
    assert skip(_frames_results(folder, [0, 1]))['imgs'][0].shape == (8, 8, 3)
