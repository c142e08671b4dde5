"""``CheckedPyAVDecode``'s faster 'accurate' decoding returns exactly the
frames of MMAction2's ``PyAVDecode`` (which converts every decoded frame to
RGB), on an H.264 file with B-frames, wrap-around indices included."""
import io

import numpy as np
import pytest

av = pytest.importorskip('av')


@pytest.fixture(scope='module')
def h264_clip():
    """60 distinct frames, 96x64, H.264 with B-frames and a key frame every
    24 frames (the decoder reorders frames, as in real videos)."""
    return _encode(60, {'g': '24', 'bf': '2'})


@pytest.mark.parametrize(
    'inds',
    [
        list(range(8, 40, 4)),
        [0],
        [59],
        [5, 5, 3, 58],
        [50, 58, 59, 60, 61, 119, 130],  # past the end: wrap around
    ])
def test_accurate_decoding_is_bit_identical(h264_clip, inds):
    from mmaction.datasets.transforms import PyAVDecode

    from uniformer_mm.datasets.transforms import CheckedPyAVDecode

    def decode(decoder):
        results = dict(
            video_reader=av.open(io.BytesIO(h264_clip)),
            frame_inds=np.array(inds),
            filename='clip.mp4')
        return decoder.transform(results)

    ours, reference = decode(CheckedPyAVDecode()), decode(PyAVDecode())
    assert len(ours['imgs']) == len(reference['imgs']) == len(inds)
    for a, b in zip(ours['imgs'], reference['imgs']):
        assert a.dtype == b.dtype == np.uint8
        np.testing.assert_array_equal(a, b)
    assert ours['img_shape'] == reference['img_shape'] == (64, 96)
    assert ours['original_shape'] == reference['original_shape']
    assert ours['video_reader'] is None
    # the frames are distinct, so a wrong index would have shown
    assert len({img.tobytes()
                for img in ours['imgs']}) == len(set(i % 60 for i in inds))


@pytest.fixture(scope='module')
def long_gop_clip():
    """120 distinct frames, 96x64, H.264 with B-frames, IDR frames every 32
    frames (closed GOPs, x264's default) -- the seek can skip frames."""
    return _encode(120, {'g': '32', 'bf': '2', 'keyint_min': '32'})


def _encode(count, options, codec='libx264'):
    buffer = io.BytesIO()
    container = av.open(buffer, 'w', format='mp4')
    stream = container.add_stream(codec, rate=30)
    stream.width, stream.height, stream.pix_fmt = 96, 64, 'yuv420p'
    stream.options = options
    y, x = np.mgrid[:64, :96]
    for t in range(count):
        frame = np.stack([(x * 2 + t * 4) % 256, (y * 3 + t * 7) % 256,
                          np.full_like(x, t * 2)], -1).astype(np.uint8)
        for packet in stream.encode(
                av.VideoFrame.from_ndarray(frame, format='rgb24')):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return buffer.getvalue()


class _Counting:
    """A container that counts the frames it decodes."""

    def __init__(self, container):
        self._container, self.decoded = container, 0

    def decode(self, *args, **kwargs):
        for frame in self._container.decode(*args, **kwargs):
            self.decoded += 1
            yield frame

    def __getattr__(self, name):
        return getattr(self._container, name)


def _decode(data, inds, **kwargs):
    from uniformer_mm.datasets.transforms import CheckedPyAVDecode
    reader = _Counting(av.open(io.BytesIO(data)))
    results = CheckedPyAVDecode(**kwargs).transform(
        dict(
            video_reader=reader,
            frame_inds=np.array(inds),
            filename='clip.mp4'))
    return results['imgs'], reader.decoded


@pytest.mark.parametrize(
    'inds,decoded',
    [
        (list(range(40, 104, 4)), 101 - 32),  # 16x4 from the IDR at 32
        ([70, 65, 99, 64], 100 - 64),  # first index on an IDR frame
        ([95, 96], 97 - 64),
        ([119], 120 - 96),
        ([5, 9], 10),  # before the second IDR frame: from the start
        ([100, 119, 120, 130], 120),  # wraps around: every frame
    ])
def test_seek_to_idr_returns_the_same_frames(long_gop_clip, inds, decoded):
    seeked, count = _decode(long_gop_clip, inds)
    start, count_start = _decode(long_gop_clip, inds, seek=False)
    assert count == decoded
    assert count_start == min(max(inds) + 1, 120)
    assert len(seeked) == len(start) == len(inds)
    for a, b in zip(seeked, start):
        np.testing.assert_array_equal(a, b)
    # the frames are distinct, so a wrong index would have shown
    assert len({img.tobytes()
                for img in seeked}) == len(set(i % 120 for i in inds))


def test_no_seek_past_a_non_idr_key_frame():
    """An open GOP (x264 --open-gop): its key frames after the first are
    I frames that B frames before them in display order refer across, not
    IDR frames, so the decoder starts from the beginning."""
    from uniformer_mm.datasets.transforms import idr_seek_plan
    data = _encode(120, {
        'g': '32',
        'bf': '2',
        'keyint_min': '32',
        'x264-params': 'open-gop=1'
    })
    inds = list(range(40, 104, 4))
    assert idr_seek_plan(data, 40, 100) is None
    seeked, count = _decode(data, inds)
    start, _ = _decode(data, inds, seek=False)
    assert count == 101  # every frame up to the last index
    for a, b in zip(seeked, start):
        np.testing.assert_array_equal(a, b)


def test_seek_plan_of_a_closed_gop(long_gop_clip):
    from uniformer_mm.datasets.transforms import idr_seek_plan
    pts, rank, order = idr_seek_plan(long_gop_clip, 40, 103)
    assert rank == 32 and len(order) == 120 and order[rank] == pts
    assert idr_seek_plan(long_gop_clip, 31, 40) is None  # IDR 0: no gain
    assert idr_seek_plan(long_gop_clip, 40, 120) is None  # wraps around
