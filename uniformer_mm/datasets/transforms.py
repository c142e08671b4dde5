"""Video loading that names the file it cannot read.

MMAction2's ``PyAVInit`` / ``PyAVDecode`` hand FFmpeg a byte buffer, so an
empty, truncated or non-video file fails with ``Invalid data found when
processing input: '<none>'`` (no file name), a video without frames with a
``ZeroDivisionError`` or ``IndexError``, and a missing file with a bare
``FileNotFoundError`` deep inside a dataloader worker.
:class:`CheckedPyAVInit` and :class:`CheckedPyAVDecode` are drop-in
replacements (same arguments, same output keys) that turn each of those into
an :class:`UnreadableVideoError` naming the file, the reason and the fix --
:class:`CheckedRawFrameDecode` does the same for frame folders, naming the
frame --
or, with ``on_error='skip'``, log one warning per file and return ``None``,
so that a training dataset (``test_mode=False``) draws another sample
instead, as MMEngine's ``BaseDataset`` does for any ``None`` from its
pipeline.

Use ``'skip'`` in training pipelines only: in test mode MMEngine raises on a
``None`` sample (an evaluation on a silently shrunk set would be wrong), so
val/test pipelines keep ``'raise'``.

Importing this module registers the three transforms into MMAction2's
``TRANSFORMS`` (``custom_imports`` of the video demo config).
"""
import io
import logging
import os.path as osp

import numpy as np
from mmaction.datasets.transforms import PyAVDecode, PyAVInit, RawFrameDecode
from mmaction.registry import TRANSFORMS
from mmengine.logging import print_log

ON_ERROR = ('raise', 'skip')


class UnreadableVideoError(ValueError):
    """A video file that cannot be opened or decoded."""


def _check_on_error(on_error: str, owner: str) -> str:
    if on_error not in ON_ERROR:
        raise ValueError(f'{owner} on_error must be one of {ON_ERROR}, got '
                         f'{on_error!r}')
    return on_error


class _OnError:
    """What the two transforms share: raise or warn-and-skip, by file."""

    def _init_on_error(self, on_error: str) -> None:
        self.on_error = _check_on_error(on_error, type(self).__name__)
        # files already warned about, so a bad file does not flood the log
        # every time the sampler returns to it (one set per worker process)
        self._warned = set()

    def _fail(self, filename: str, reason: str):
        message = (
            f'cannot read video {filename}: {reason}. Re-encode or replace '
            'the file, or remove its line from the annotation list' +
            ('' if self.on_error == 'skip' else
             "; in a training pipeline, on_error='skip' skips such files "
             'with a warning'))
        if self.on_error == 'raise':
            raise UnreadableVideoError(message)
        if filename not in self._warned:
            self._warned.add(filename)
            print_log(
                f'{type(self).__name__}: skipped: {message}',
                logger='current',
                level=logging.WARNING)
        return None


@TRANSFORMS.register_module()
class CheckedPyAVInit(_OnError, PyAVInit):
    """``PyAVInit`` with readable errors for unreadable videos.

    Opens the video like ``PyAVInit`` and adds ``video_reader`` and
    ``total_frames``; then checks that the file exists, is not empty, opens
    as a container with a video stream and has at least one frame. A
    container that does not record its frame count (``frames == 0``, e.g.
    some WebM/MKV files) is counted by demuxing its packets instead of
    failing later in ``SampleFrames``.

    Args:
        on_error (str): ``'raise'`` an :class:`UnreadableVideoError` naming
            the file, or ``'skip'`` it: log one warning per file and return
            None (training pipelines only). Defaults to ``'raise'``.
        io_backend (str): As for ``PyAVInit``. Defaults to ``'disk'``.
        **kwargs: File client arguments, as for ``PyAVInit``.
    """

    def __init__(self,
                 on_error: str = 'raise',
                 io_backend: str = 'disk',
                 **kwargs):
        super().__init__(io_backend=io_backend, **kwargs)
        self._init_on_error(on_error)

    def transform(self, results: dict):
        """Open ``results['filename']``; None when it is skipped."""
        import av
        filename = results['filename']
        if self.io_backend == 'disk':
            # the file client's own errors do not say what to do
            if not osp.isfile(filename):
                return self._fail(filename, 'no such file')
            if osp.getsize(filename) == 0:
                return self._fail(filename, 'the file is empty (0 bytes)')
        try:
            results = super().transform(results)
        except (av.error.FFmpegError, OSError, IndexError) as err:
            # IndexError: a container without a video stream
            if isinstance(err, IndexError):
                reason = 'it has no video stream'
            else:
                reason = ('FFmpeg cannot open it as a video (truncated, '
                          f'corrupt or not a video file): {err}')
            return self._fail(filename, reason)
        if results['total_frames'] <= 0:
            container = results['video_reader']
            try:
                count = sum(1 for packet in container.demux(video=0)
                            if packet.size)
            except av.error.FFmpegError as err:
                return self._fail(filename, f'demuxing failed: {err}')
            if count == 0:
                return self._fail(filename, 'its video stream has no frames')
            # the count consumed the container: open a fresh one to decode
            data = io.BytesIO(self.file_client.get(filename))
            results['video_reader'] = av.open(data)
            results['total_frames'] = count
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(on_error={self.on_error!r}, '
                f'io_backend={self.io_backend!r})')


@TRANSFORMS.register_module()
class CheckedPyAVDecode(_OnError, PyAVDecode):
    """``PyAVDecode`` with readable errors for videos that fail to decode.

    Decodes the frames at ``frame_inds`` like ``PyAVDecode`` (a video that
    decodes to fewer frames than its header promised is looped over, as
    MMAction2 does). A decode error, or no frame at all, raises an
    :class:`UnreadableVideoError` naming ``results['filename']`` or, with
    ``on_error='skip'``, returns None after one warning per file.

    Args:
        on_error (str): ``'raise'`` or ``'skip'``, as for
            :class:`CheckedPyAVInit`. Defaults to ``'raise'``.
        multi_thread (bool): As for ``PyAVDecode``. Defaults to False.
        mode (str): As for ``PyAVDecode``. Defaults to ``'accurate'``.
    """

    def __init__(self,
                 on_error: str = 'raise',
                 multi_thread: bool = False,
                 mode: str = 'accurate'):
        super().__init__(multi_thread=multi_thread, mode=mode)
        self._init_on_error(on_error)

    def transform(self, results: dict):
        """Decode the sampled frames; None when the video is skipped."""
        import av
        filename = results.get('filename', '<unknown file>')
        try:
            if self.mode == 'accurate':
                return self._decode_accurate(results)
            return super().transform(results)
        except av.error.FFmpegError as err:
            return self._fail(filename, f'decoding failed: {err}')
        except (ZeroDivisionError, IndexError):
            # PyAVDecode indexes frame_inds modulo the decoded frames
            return self._fail(
                filename, 'no frame could be decoded (the '
                'file is truncated or corrupt)')

    def _decode_accurate(self, results: dict) -> dict:
        """``PyAVDecode``'s ``'accurate'`` mode, the same frames bit for
        bit, faster: it decodes every frame from the start up to the last
        index (indices past the end of a short video wrap around the frames
        decoded, as there), but converts to RGB only the frames it returns
        (MMAction2 converts every decoded frame: 40% of the decoding time
        of a 16x4 clip) and stops at the last index instead of two frames
        after it."""
        container = results['video_reader']
        if self.multi_thread:
            container.streams.video[0].thread_type = 'AUTO'
        if results['frame_inds'].ndim != 1:
            results['frame_inds'] = np.squeeze(results['frame_inds'])
        inds = results['frame_inds']
        last = int(max(inds))
        # decoded frames stay YUV until picked: half the memory of RGB
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame)
            if len(frames) > last:
                break
        rgb = {}
        imgs = []
        for i in inds:
            j = int(i) % len(frames)  # no frame: ZeroDivisionError
            if j not in rgb:
                rgb[j] = frames[j].to_rgb().to_ndarray()
            imgs.append(rgb[j])
        results['imgs'] = imgs
        results['original_shape'] = imgs[0].shape[:2]
        results['img_shape'] = imgs[0].shape[:2]
        results['video_reader'] = None
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(on_error={self.on_error!r}, '
                f'multi_thread={self.multi_thread}, mode={self.mode!r})')


@TRANSFORMS.register_module()
class CheckedRawFrameDecode(_OnError, RawFrameDecode):
    """``RawFrameDecode`` that names the frame it cannot read.

    MMAction2's ``RawFrameDecode`` raises whatever the storage backend or
    the image decoder raised -- for a zero-byte JPEG, OpenCV's
    ``!buf.empty()`` assertion -- with no word of the frame or its folder.
    This one decodes the same frames (same arguments, same output keys);
    when decoding fails it finds the first sampled frame that cannot be read
    and raises an :class:`UnreadableVideoError` naming it, its size and the
    original error, or with ``on_error='skip'`` warns once per folder and
    returns None (training datasets then draw another sample).

    Args:
        on_error (str): ``'raise'`` or ``'skip'``, as for
            :class:`CheckedPyAVInit`. Defaults to ``'raise'``.
        io_backend (str): As for ``RawFrameDecode``. Defaults to ``'disk'``.
        decoding_backend (str): As for ``RawFrameDecode``.
            Defaults to ``'cv2'``.
    """

    def __init__(self,
                 on_error: str = 'raise',
                 io_backend: str = 'disk',
                 decoding_backend: str = 'cv2',
                 **kwargs):
        super().__init__(
            io_backend=io_backend, decoding_backend=decoding_backend, **kwargs)
        self._init_on_error(on_error)

    def transform(self, results: dict):
        """Decode the sampled frames; None when the folder is skipped."""
        try:
            return super().transform(results)
        except Exception as error:
            bad = self._first_unreadable(results)
            if bad is None:
                raise  # not a frame of this folder: upstream's own error
            path, reason = bad
            return self._fail(
                results['frame_dir'], f'frame {path} cannot be read '
                f'({reason}; the decoder said: {type(error).__name__}: '
                f'{error})'.replace('\n', ' '))

    def _first_unreadable(self, results: dict):
        """(path, why) of the first sampled frame that fails on its own."""
        import mmcv
        tmpl, offset = results['filename_tmpl'], results.get('offset', 0)
        flow = results['modality'] == 'Flow'
        for index in np.asarray(results['frame_inds']).reshape(-1):
            names = ([tmpl.format(axis, index + offset) for axis in 'xy']
                     if flow else [tmpl.format(index + offset)])
            for name in names:
                path = osp.join(results['frame_dir'], name)
                try:
                    size = f'{osp.getsize(path)} bytes'
                    image = mmcv.imfrombytes(self.file_client.get(path))
                except Exception as error:  # noqa: B902 -- any backend
                    reason = (f'{type(error).__name__}: {error}'
                              if not osp.exists(path) else f'{size}')
                    return path, reason
                if image is None:
                    return path, f'{size}, not an image'
        return None

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(on_error={self.on_error!r}, '
                f'io_backend={self.io_backend!r}, '
                f'decoding_backend={self.decoding_backend!r})')
