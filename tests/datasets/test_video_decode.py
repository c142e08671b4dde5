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
    buffer = io.BytesIO()
    container = av.open(buffer, 'w', format='mp4')
    stream = container.add_stream('libx264', rate=30)
    stream.width, stream.height, stream.pix_fmt = 96, 64, 'yuv420p'
    stream.options = {'g': '24', 'bf': '2'}
    y, x = np.mgrid[:64, :96]
    for t in range(60):
        frame = np.stack([(x * 2 + t * 4) % 256, (y * 3 + t * 7) % 256,
                          np.full_like(x, t * 4)], -1).astype(np.uint8)
        for packet in stream.encode(
                av.VideoFrame.from_ndarray(frame, format='rgb24')):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return buffer.getvalue()


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
