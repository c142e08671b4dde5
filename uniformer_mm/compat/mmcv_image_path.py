"""MMCV: an image that cannot be read is named in the error.

Upstream: ``mmcv.transforms.LoadImageFromFile.transform`` re-raises whatever
reading or decoding raised, without the file: a zero-byte or truncated JPEG
in a data set of 100k images stops training with OpenCV's
``error: (-215:Assertion failed) !buf.empty() in function 'imdecode_'`` (or
``FileNotFoundError`` of a storage backend) and no word of which image. No
upstream issue asks for it; the ``assert img is not None`` just below in the
same method does name the file.

Applies to: mmcv 2.0.0 - 2.2.0 (verified on 2.1.0), where ``transform`` has
that shape. Once ``mmcv.transforms.loading`` has been executed, the error
becomes an ``OSError`` naming the file and its size, chained to the
original; ``ignore_empty=True`` behaves as before (the sample is skipped).
"""
FIRST, LAST = (2, 0, 0), (2, 2, 0)


def applies(version) -> bool:
    from _uniformer_mm_startup import in_range
    return in_range(version, FIRST, LAST)


def _described(path) -> str:
    import os
    try:
        return f'{path} ({os.path.getsize(path)} bytes)'
    except (OSError, TypeError):
        return f'{path} (not a readable local file)'


def name_unreadable_images(loading_module) -> bool:
    """Patch ``LoadImageFromFile.transform``; True if patched now."""
    from _uniformer_mm_startup import installed_version
    cls = getattr(loading_module, 'LoadImageFromFile', None)
    original = getattr(cls, 'transform', None)
    if (original is None or getattr(original, 'names_path', False)
            or not applies(installed_version('mmcv'))):
        return False

    def transform(self, results):
        try:
            return original(self, results)
        except Exception as error:
            if isinstance(error, AssertionError):
                raise  # upstream's own message names the file
            raise OSError(
                f'cannot read image {_described(results.get("img_path"))}: '
                f'{type(error).__name__}: {error}'.rstrip()) from error

    transform.names_path = True
    transform.__doc__ = original.__doc__
    cls.transform = transform
    return True


def find_spec(fullname, real_spec):
    """The real spec with a patching loader, or None (not ours)."""
    from _uniformer_mm_startup import installed_version, patched_spec
    if not applies(installed_version('mmcv')):
        return None
    return patched_spec(real_spec, name_unreadable_images)
