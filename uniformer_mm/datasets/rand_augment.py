"""RandAugment applied identically to every frame of a clip: the official
UniFormer video policy, on numpy and PIL only.

The official video training code (``video_classification/slowfast/datasets/
rand_augment.py`` and ``transform.py``, a port of timm's RandAugment)
decodes a clip, turns every frame into a PIL image and runs one RandAugment
over the list: the operations, their magnitudes and signs are drawn once
per clip and applied to each frame. MMAction2's own option,
``PytorchVideoWrapper(op='RandAugment')``, needs pytorchvideo and therefore
torchvision, and is pytorchvideo's RandAugment, not the timm policy of the
official runs. :class:`ClipRandAugment` reproduces the official policy:

* the 15 operations of timm's ``rand`` set (``_RAND_TRANSFORMS``) or, with
  ``inc1``, its "increasing" set, in which Posterize, Solarize, Color,
  Contrast, Brightness and Sharpness get stronger as the magnitude grows
  (:data:`RAND_OPS`, :data:`RAND_INCREASING_OPS`);
* magnitudes on the 0-10 scale (``_MAX_LEVEL`` 10), mapped to arguments as
  in :func:`op_argument`; with ``mstd`` each applied operation draws its
  magnitude from N(m, mstd), clipped to [0, 10];
* ``n`` operations chosen uniformly with replacement, each applied with
  probability 0.5; rotation, shear, translation and the increasing
  enhancements take a random sign;
* the hyper-parameters the official ``create_random_augment`` passes:
  bicubic interpolation (``AUG.INTERPOLATION`` of every official run),
  grey (128, 128, 128) fill (it passes no ``img_mean``), translation by up
  to 45% of the frame size (the ``Rel`` translations; its
  ``translate_const`` only feeds the absolute ones, which ``rand`` does not
  use).

Importing this module registers :class:`ClipRandAugment` in MMAction2's
``TRANSFORMS`` (``custom_imports`` of the video zoo configs).
"""
import re
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform
from PIL import Image, ImageEnhance, ImageOps

#: the top of the magnitude scale (timm's ``_MAX_LEVEL``)
MAX_LEVEL = 10.0
#: the official fill colour of rotated, sheared and translated frames
FILL = (128, 128, 128)
#: translations move by up to this fraction of the frame width / height
TRANSLATE_PCT = 0.45
#: probability that a chosen operation is applied (fixed officially)
OP_PROB = 0.5

#: timm's ``rand`` operation set (AA_TYPE without ``inc1``)
RAND_OPS: Tuple[str, ...] = ('AutoContrast', 'Equalize', 'Invert', 'Rotate',
                             'Posterize', 'Solarize', 'SolarizeAdd', 'Color',
                             'Contrast', 'Brightness', 'Sharpness', 'ShearX',
                             'ShearY', 'TranslateXRel', 'TranslateYRel')
#: the ``inc1`` set: severity grows with the magnitude for every operation
RAND_INCREASING_OPS: Tuple[str,
                           ...] = ('AutoContrast', 'Equalize', 'Invert',
                                   'Rotate', 'PosterizeIncreasing',
                                   'SolarizeIncreasing', 'SolarizeAdd',
                                   'ColorIncreasing', 'ContrastIncreasing',
                                   'BrightnessIncreasing',
                                   'SharpnessIncreasing', 'ShearX', 'ShearY',
                                   'TranslateXRel', 'TranslateYRel')

INTERPOLATIONS = {
    'nearest': Image.Resampling.NEAREST,
    'bilinear': Image.Resampling.BILINEAR,
    'bicubic': Image.Resampling.BICUBIC,
}
POLICY_EXAMPLE = "'rand-m7-n4-mstd0.5-inc1'"

# ------------------------------------------------ magnitude -> argument
# Each takes the (noisy, clipped) magnitude and the sign drawn for the clip.
# The arithmetic follows the official order of operations, so the integer
# arguments truncate identically.


def _scaled(magnitude: float, top: float) -> float:
    return (magnitude / MAX_LEVEL) * top


def _enhance(magnitude, sign):
    # factor in [0.1, 1.9]; 1 is the identity, so low magnitudes degrade
    return _scaled(magnitude, 1.8) + 0.1


def _enhance_increasing(magnitude, sign):
    # away from the identity 1.0 in either direction, by up to 0.9
    return 1.0 + sign * _scaled(magnitude, 0.9)


def _posterize(magnitude, sign):
    return int(_scaled(magnitude, 4))  # bits kept, 0-4


def _posterize_increasing(magnitude, sign):
    return 4 - _posterize(magnitude, sign)


def _solarize(magnitude, sign):
    return int(_scaled(magnitude, 256))  # threshold, 0-256


def _solarize_increasing(magnitude, sign):
    return 256 - _solarize(magnitude, sign)


_LEVEL_TO_ARG = {
    'Rotate': lambda m, sign: sign * _scaled(m, 30.0),  # degrees
    'Posterize': _posterize,
    'PosterizeIncreasing': _posterize_increasing,
    'Solarize': _solarize,
    'SolarizeIncreasing': _solarize_increasing,
    'SolarizeAdd': lambda m, sign: int(_scaled(m, 110)),
    'Color': _enhance,
    'ColorIncreasing': _enhance_increasing,
    'Contrast': _enhance,
    'ContrastIncreasing': _enhance_increasing,
    'Brightness': _enhance,
    'BrightnessIncreasing': _enhance_increasing,
    'Sharpness': _enhance,
    'SharpnessIncreasing': _enhance_increasing,
    'ShearX': lambda m, sign: sign * _scaled(m, 0.3),
    'ShearY': lambda m, sign: sign * _scaled(m, 0.3),
    'TranslateXRel': lambda m, sign: sign * _scaled(m, TRANSLATE_PCT),
    'TranslateYRel': lambda m, sign: sign * _scaled(m, TRANSLATE_PCT),
}
# operations whose argument takes the random sign
_SIGNED = frozenset(('Rotate', 'ColorIncreasing', 'ContrastIncreasing',
                     'BrightnessIncreasing', 'SharpnessIncreasing', 'ShearX',
                     'ShearY', 'TranslateXRel', 'TranslateYRel'))


def op_argument(name: str,
                magnitude: float,
                sign: int = 1) -> Optional[Union[int, float]]:
    """The argument of operation ``name`` at ``magnitude`` (0-10).

    Args:
        name (str): One of :data:`RAND_OPS` or :data:`RAND_INCREASING_OPS`.
        magnitude (float): The magnitude, 0-10.
        sign (int): +1 or -1; used by the signed operations (rotation,
            shear, translation, increasing enhancements). Defaults to 1.

    Returns:
        int | float | None: Degrees for Rotate, kept bits for Posterize,
        threshold for Solarize, added value for SolarizeAdd, enhancement
        factor (1 = identity), shear factor, translation as a fraction of
        the frame size; None for the operations without an argument.
    """
    if name not in _OPS:
        raise KeyError(f'unknown RandAugment operation {name!r}; known: '
                       f'{sorted(_OPS)}')
    level = _LEVEL_TO_ARG.get(name)
    return None if level is None else level(magnitude, sign)


# ------------------------------------------------------ the operations
# ``ctx`` holds the resampling filter and the fill colour.


def _affine(img, coeffs, ctx):
    # PIL maps each output pixel (x, y) to the input pixel
    # (a x + b y + c, d x + e y + f)
    return img.transform(
        img.size,
        Image.Transform.AFFINE,
        coeffs,
        resample=ctx['resample'],
        fillcolor=ctx['fill'])


def _solarize_add(img, add, ctx):
    lut = [min(255, i + add) if i < 128 else i for i in range(256)]
    return img.point(lut * len(img.getbands()))


def _posterize_op(img, bits, ctx):
    # a LUT, not ImageOps.posterize: Pillow >= 10 refuses bits=0, which the
    # policy produces (all-black frames, as with the Pillow of the official
    # runs)
    if bits >= 8:
        return img
    mask = (0xFF << (8 - bits)) & 0xFF
    return img.point([i & mask for i in range(256)] * len(img.getbands()))


_OPS = {
    'AutoContrast':
    lambda img, arg, ctx: ImageOps.autocontrast(img),
    'Equalize':
    lambda img, arg, ctx: ImageOps.equalize(img),
    'Invert':
    lambda img, arg, ctx: ImageOps.invert(img),
    'Rotate':
    lambda img, deg, ctx: img.rotate(
        deg, resample=ctx['resample'], fillcolor=ctx['fill']),
    'Posterize':
    _posterize_op,
    'PosterizeIncreasing':
    _posterize_op,
    'Solarize':
    lambda img, t, ctx: ImageOps.solarize(img, t),
    'SolarizeIncreasing':
    lambda img, t, ctx: ImageOps.solarize(img, t),
    'SolarizeAdd':
    _solarize_add,
    'ShearX':
    lambda img, f, ctx: _affine(img, (1, f, 0, 0, 1, 0), ctx),
    'ShearY':
    lambda img, f, ctx: _affine(img, (1, 0, 0, f, 1, 0), ctx),
    'TranslateXRel':
    lambda img, pct, ctx: _affine(img,
                                  (1, 0, pct * img.size[0], 0, 1, 0), ctx),
    'TranslateYRel':
    lambda img, pct, ctx: _affine(img,
                                  (1, 0, 0, 0, 1, pct * img.size[1]), ctx),
}
for _name, _enhancer in (('Color', ImageEnhance.Color),
                         ('Contrast', ImageEnhance.Contrast),
                         ('Brightness', ImageEnhance.Brightness),
                         ('Sharpness', ImageEnhance.Sharpness)):
    for _suffix in ('', 'Increasing'):
        _OPS[_name +
             _suffix] = (lambda img, f, ctx, e=_enhancer: e(img).enhance(f))
del _name, _enhancer, _suffix

# ------------------------------------------- whole-clip operations
# The same pixels as the PIL operations above, computed on the whole
# T x H x W x 3 clip at once (tests/datasets/test_rand_augment.py compares
# them with PIL). Where only a few ops are drawn the PIL round trip of every
# frame (Image.fromarray, np.array) is skipped as well.


def _lut_op(make_lut):
    """A point operation (one 256-entry table for every channel)."""

    def op(clip, arg, ctx):
        return cv2.LUT(clip, make_lut(arg))

    return op


def _posterize_lut(bits):
    if bits >= 8:
        return np.arange(256, dtype=np.uint8)
    mask = (0xFF << (8 - bits)) & 0xFF
    return np.arange(256, dtype=np.uint8) & np.uint8(mask)


def _solarize_lut(threshold):
    # ImageOps.solarize: i if i < threshold else 255 - i
    i = np.arange(256)
    return np.where(i < threshold, i, 255 - i).astype(np.uint8)


def _solarize_add_lut(add):
    i = np.arange(256)
    return np.where(i < 128, np.minimum(255, i + add), i).astype(np.uint8)


#: frames filtered at a time: the float32 temporaries then stay in the CPU
#: caches (for 16 frames of 456 x 256 at once each is 22 MB); 1.0-1.8x
#: faster than the whole clip at once, measured on such a clip
_CHUNK = 4

#: how close to an integer the fast float32 interpolation may come before
#: the pixel is recomputed as PIL does; the float32 result is within 5e-4
#: of PIL's float64 one (4 taps of at most 255 with weights below 1.2)
_NEAR_INTEGER = 2e-3


def _bicubic_exact(v1, v2, v3, v4, d):
    """PIL's ``BICUBIC`` macro (Geometry.c, a = -1) in float64, in its
    order of operations, then its clip and truncation to uint8."""
    v1, v2, v3, v4 = (v.astype(np.float64) for v in (v1, v2, v3, v4))
    p2 = -v1 + v3
    p3 = 2 * (v1 - v2) + v3 - v4
    p4 = -v1 + v2 - v3 + v4
    v = v2 + d * (p2 + d * (p3 + d * p4))
    return np.clip(np.floor(v), 0, 255).astype(np.uint8)


def _bicubic_kernel(d: float) -> np.ndarray:
    # the BICUBIC macro as weights of the four taps
    d2, d3 = d * d, d * d * d
    return np.array(
        [[-d + 2 * d2 - d3, 1 - 2 * d2 + d3, d + d2 - d3, d3 - d2]],
        np.float32)


def _shift_rows(clip: np.ndarray, shear: float, offset: float,
                fill: Sequence[int]) -> np.ndarray:
    """PIL's bicubic ``Image.transform(AFFINE, (1, shear, offset, 0, 1,
    0))`` of every frame (ShearX, TranslateXRel): row y moves by ``shear *
    (y + 0.5) + offset`` pixels, so PIL's 4 x 4 bicubic filter reduces to
    the 4 taps of the row (its vertical weights are 1 for the row itself:
    ``dy`` is 0).

    The rows are filtered in float32 with OpenCV (one filter for a
    translation, one per row for a shear); the values within
    ``_NEAR_INTEGER`` of an integer, where float32 could truncate
    differently, are recomputed in float64 exactly as PIL does.
    """
    t, h, w, c = clip.shape
    xs = np.arange(w, dtype=np.float64) + 0.5
    ys = np.arange(h, dtype=np.float64) + 0.5
    # affine_transform: a0 * x + a1 * y + a2 with a0 = 1
    xin = (xs[None, :] + shear * ys[:, None]) + offset
    valid = (xin >= 0.0) & (xin < w)
    xin -= 0.5
    base = np.floor(xin)
    d = xin - base
    base = base.astype(np.intp)  # taps base - 1 .. base + 2, clamped
    result = np.empty_like(clip)
    # a row of the fill colour (broadcasting a 3-vector is slow in numpy)
    fill_row = np.empty((w, c), np.uint8)
    fill_row[:] = np.asarray(fill, np.uint8)
    # xin grows with x: the valid pixels of a row are one span
    lo = np.argmax(valid, axis=1)
    hi = w - np.argmax(valid[:, ::-1], axis=1)
    rows = np.flatnonzero(valid.any(axis=1))
    if not len(rows):
        result[:] = fill_row
        return result
    first = base + 1 - np.arange(w)  # filtered[x + first] is pixel x
    rep = d[rows, lo[rows]]  # the fraction of each row's kernel
    if shear == 0:
        # a translation: every row the same shift, one filter for all
        a, b = lo[rows[0]], hi[rows[0]]
        shift = slice(a + first[rows[0], a], b + first[rows[0], a])
    else:
        a, b = lo[rows].min(), hi[rows].max()
    cols = slice(a, b)
    n = b - a
    # a row with fraction 0 filters with (0, 1, 0, 0): exact, no check
    row_frac = np.zeros(h)
    row_frac[rows] = rep
    exact_rows = row_frac == 0 if (row_frac[rows] == 0).any() else None
    # pixels whose shift or fraction differs from their row's kernel (the
    # sums differ by rounding only; nothing seen) are recomputed below
    odd = valid & ((np.abs(d - row_frac[:, None]) > 1e-9) |
                   (first != first[np.arange(h), lo][:, None]))
    odd = odd[None, :, cols, None] if odd.any() else None
    window = np.ones((1, 4), np.uint8)
    # the geometry above once; the pixels a few frames at a time (_CHUNK)
    for start in range(0, t, _CHUNK):
        part = clip[start:start + _CHUNK]
        out = result[start:start + _CHUNK]
        k = len(part)
        # padded[..., j, :] = frame[..., clamp(j - 2), :]: the taps of base
        # are padded[base + 1 + k], k = 0..3; filtered[j] sums
        # padded[j..j + 3]
        padded = cv2.copyMakeBorder(
            part.reshape(k * h, w, c), 0, 0, 2, 2, cv2.BORDER_REPLICATE)
        # where the 4 taps are equal PIL's value is that integer (p2 = p3 =
        # p4 = 0), and the float32 filter is within 2e-4 of it: no check
        # needed
        varied = cv2.compare(
            cv2.dilate(padded, window, anchor=(0, 0)),
            cv2.erode(padded, window, anchor=(0, 0)),
            cv2.CMP_NE).reshape(k, h, w + 4, c)
        if shear == 0:
            filtered = cv2.filter2D(
                padded,
                cv2.CV_32F,
                _bicubic_kernel(rep[0]),
                anchor=(0, 0),
                borderType=cv2.BORDER_REPLICATE).reshape(k, h, w + 4, c)
            approx = filtered[:, :, shift]
            check = varied[:, :, shift]
        else:
            # 0.5: never near an integer (the uncovered pixels get the fill)
            approx = np.full((k, h, n, c), 0.5, np.float32)
            check = np.zeros((k, h, n, c), np.uint8)
            padded = padded.reshape(k, h, w + 4, c)
            for y, frac in zip(rows, rep):
                filtered = cv2.filter2D(
                    padded[:, y],
                    cv2.CV_32F,
                    _bicubic_kernel(frac),
                    anchor=(0, 0),
                    borderType=cv2.BORDER_REPLICATE)
                i, j = lo[y], hi[y]
                row_shift = slice(i + first[y, i], j + first[y, i])
                approx[:, y, i - a:j - a] = filtered[:, row_shift]
                check[:, y, i - a:j - a] = varied[:, y, row_shift]
        if exact_rows is not None:
            check[:, exact_rows] = 0
        flat_approx = approx.reshape(k * h, n * c)
        # at least _NEAR_INTEGER away from an integer, or exact to 2e-4
        # (see above), floor(v) = round(v - 0.5 + 2.5e-4), which OpenCV's
        # saturating conversion computes
        whole = cv2.subtract(flat_approx, 0.5 - 2.5e-4, dtype=cv2.CV_8U)
        # the fraction, [0, 1) where v is in 0..255, else outside
        frac = cv2.subtract(flat_approx, whole, dtype=cv2.CV_32F)
        near = cv2.inRange(frac, _NEAR_INTEGER, 1 - _NEAR_INTEGER) == 0
        near = near.reshape(k, h, n, c)
        near &= check.astype(bool)
        if odd is not None:
            near |= odd
        out[:, :, cols] = whole.reshape(k, h, n, c)
        ti, yi, xi, ci = np.unravel_index(np.flatnonzero(near), near.shape)
        xi += a
        if len(ti):
            b_ = base[yi, xi]
            line = (ti * h + yi) * (w * c) + ci
            source = part.reshape(-1)
            taps = [
                source[line + np.clip(b_ - 1 + tap, 0, w - 1) * c]
                for tap in range(4)
            ]
            out[ti, yi, xi, ci] = _bicubic_exact(*taps, d[yi, xi])
    # the uncovered pixels of each row get the fill
    result[:, :, :a] = fill_row[:a]
    result[:, :, b:] = fill_row[b:]
    for y in np.flatnonzero((lo > a) | (hi < b) | ~valid.any(axis=1)):
        if not valid[y].any():
            result[:, y] = fill_row
        else:
            result[:, y, a:lo[y]] = fill_row[a:lo[y]]
            result[:, y, hi[y]:b] = fill_row[hi[y]:b]
    return result


def _shift_columns(clip, shear, offset, fill):
    """ShearY / TranslateYRel: :func:`_shift_rows` of the transposed clip
    (PIL's ``a3 * x + a4 * y + a5`` with a4 = 1 is the same sum)."""
    flipped = np.ascontiguousarray(clip.transpose(0, 2, 1, 3))
    out = _shift_rows(flipped, shear, offset, fill)
    return np.ascontiguousarray(out.transpose(0, 2, 1, 3))


_CLIP_OPS = {
    'Invert': _lut_op(lambda arg: 255 - np.arange(256, dtype=np.uint8)),
    'Posterize': _lut_op(_posterize_lut),
    'PosterizeIncreasing': _lut_op(_posterize_lut),
    'Solarize': _lut_op(_solarize_lut),
    'SolarizeIncreasing': _lut_op(_solarize_lut),
    'SolarizeAdd': _lut_op(_solarize_add_lut),
}
# the geometric ones compute PIL's bicubic filter only
_CLIP_BICUBIC_OPS = {
    'ShearX':
    lambda clip, f, ctx: _shift_rows(clip, f, 0.0, ctx['fill']),
    'ShearY':
    lambda clip, f, ctx: _shift_columns(clip, f, 0.0, ctx['fill']),
    'TranslateXRel':
    lambda clip, pct, ctx: _shift_rows(clip, 0.0, pct * clip.shape[2], ctx[
        'fill']),
    'TranslateYRel':
    lambda clip, pct, ctx: _shift_columns(clip, 0.0, pct * clip.shape[1], ctx[
        'fill']),
}


def _clip_op(name: str, ctx: dict):
    """The whole-clip implementation of ``name``, or None (PIL, per
    frame)."""
    if name in _CLIP_OPS:
        return _CLIP_OPS[name]
    if ctx['resample'] == Image.Resampling.BICUBIC:
        return _CLIP_BICUBIC_OPS.get(name)
    return None


def _apply_pil(frames, ops, ctx) -> List[np.ndarray]:
    """Every op on every frame with PIL (the reference implementation)."""
    images = [Image.fromarray(f) for f in frames]
    for name, arg in ops:
        images = [_OPS[name](img, arg, ctx) for img in images]
    return [np.array(img) for img in images]


def _apply(frames, ops, ctx) -> List[np.ndarray]:
    """The same pixels as :func:`_apply_pil`: runs of ops with a whole-clip
    implementation on a T x H x W x 3 array, the others per frame with
    PIL."""
    clip, images = None, None
    for name, arg in ops:
        fast = _clip_op(name, ctx)
        if fast is not None:
            if clip is None:
                clip = np.stack(frames if images is
                                None else [np.asarray(img) for img in images])
                images = None
            clip = fast(clip, arg, ctx)
        else:
            if images is None:
                images = [
                    Image.fromarray(f)
                    for f in (frames if clip is None else clip)
                ]
                clip = None
            images = [_OPS[name](img, arg, ctx) for img in images]
    if clip is not None:
        return list(clip)  # views of a new array: writable, not shared
    return [np.array(img) for img in images]


def _context(interpolation: str, fill: Sequence[int]) -> dict:
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f'interpolation must be one of '
                         f'{sorted(INTERPOLATIONS)}, got {interpolation!r}')
    fill = tuple(int(v) for v in fill)
    if len(fill) != 3 or not all(0 <= v <= 255 for v in fill):
        raise ValueError(f'fill must be three 0-255 RGB values, got {fill}')
    return dict(resample=INTERPOLATIONS[interpolation], fill=fill)


def apply_op(frame: np.ndarray,
             name: str,
             arg=None,
             interpolation: str = 'bicubic',
             fill: Sequence[int] = FILL) -> np.ndarray:
    """Apply one operation with a given argument to one HxWx3 uint8 RGB
    frame (see :func:`op_argument` for the arguments); returns a new
    array."""
    if name not in _OPS:
        raise KeyError(f'unknown RandAugment operation {name!r}; known: '
                       f'{sorted(_OPS)}')
    img = Image.fromarray(_check_frame(frame, 'frame'))
    return np.array(_OPS[name](img, arg, _context(interpolation, fill)))


def _check_frame(frame, where: str) -> np.ndarray:
    if (not isinstance(frame, np.ndarray) or frame.dtype != np.uint8
            or frame.ndim != 3 or frame.shape[2] != 3):
        got = (f'{frame.dtype} array of shape {frame.shape}' if isinstance(
            frame, np.ndarray) else type(frame).__name__)
        raise TypeError(
            f'ClipRandAugment works on HxWx3 uint8 RGB frames, but {where} '
            f'is a {got}; put it right after the decoder (PyAVDecode, '
            'RawFrameDecode, ...), before any Normalize or FormatShape')
    return frame


# --------------------------------------------------------------- policy
class RandAugmentPolicy(NamedTuple):
    """A parsed timm-style RandAugment policy (see :func:`parse_policy`)."""
    magnitude: float
    num_layers: int
    magnitude_std: float
    increasing: bool

    @property
    def ops(self) -> Tuple[str, ...]:
        return RAND_INCREASING_OPS if self.increasing else RAND_OPS


_TOKEN = re.compile(r'^(mstd|inc|m|n|w)([\d.].*)$')


def parse_policy(policy: str) -> RandAugmentPolicy:
    """Parse a timm / official ``AUG.AA_TYPE`` RandAugment string.

    ``'rand'`` followed by dash-separated fields in any order: ``m<int>``
    magnitude 0-10 (default 10), ``n<int>`` operations per clip (default
    2), ``mstd<float>`` std of the magnitude noise (default 0: none),
    ``inc<0|1>`` the increasing operation set (default 0). E.g.
    ``'rand-m7-n4-mstd0.5-inc1'``; ``'rand'`` alone is m10, n2.

    Unlike the official parser, an unknown or repeated field is an error
    rather than ignored, and ``inc0`` means the plain set (officially any
    ``inc`` field selected the increasing one). The op-weighting field
    ``w`` is not supported (no UniFormer run uses it).
    """
    if not isinstance(policy, str):
        raise TypeError(f'policy must be a string such as {POLICY_EXAMPLE}, '
                        f'got {type(policy).__name__}')
    fields = policy.split('-')
    if fields[0] != 'rand':
        raise ValueError(
            f"RandAugment policy {policy!r} must start with 'rand' (timm "
            f'AA_TYPE syntax, e.g. {POLICY_EXAMPLE})')
    values = dict(m=10, n=2, mstd=0.0, inc=0)
    seen = set()
    for field in fields[1:]:
        match = _TOKEN.match(field)
        if match is None:
            raise ValueError(
                f'RandAugment policy {policy!r}: cannot read field '
                f'{field!r}; fields are m<magnitude 0-10>, n<ops per clip>, '
                f'mstd<magnitude std>, inc<0|1>, e.g. {POLICY_EXAMPLE}')
        key, text = match.groups()
        if key == 'w':
            raise ValueError(
                f'RandAugment policy {policy!r}: the op-weighting field '
                f'{field!r} is not supported; drop it (uniform op choice, '
                'as in every official UniFormer run)')
        if key in seen:
            raise ValueError(
                f'RandAugment policy {policy!r} sets {key!r} twice')
        seen.add(key)
        try:
            value = float(text) if key == 'mstd' else int(text)
        except ValueError:
            kind = 'a number' if key == 'mstd' else 'an integer'
            raise ValueError(
                f'RandAugment policy {policy!r}: {key!r} needs {kind}, got '
                f'{text!r} in {field!r}') from None
        values[key] = value
    if not 0 <= values['m'] <= MAX_LEVEL:
        raise ValueError(f'RandAugment policy {policy!r}: magnitude m must '
                         f'be 0-{MAX_LEVEL:g}, got {values["m"]}')
    if values['n'] < 0:
        raise ValueError(f'RandAugment policy {policy!r}: n (operations per '
                         f'clip) must be >= 0, got {values["n"]}')
    if not values['mstd'] >= 0:
        raise ValueError(f'RandAugment policy {policy!r}: mstd must be >= 0, '
                         f'got {values["mstd"]}')
    if values['inc'] not in (0, 1):
        raise ValueError(f'RandAugment policy {policy!r}: inc must be 0 or '
                         f'1, got {values["inc"]}')
    return RandAugmentPolicy(
        magnitude=float(values['m']),
        num_layers=values['n'],
        magnitude_std=values['mstd'],
        increasing=bool(values['inc']))


# ------------------------------------------------------------ transform
@TRANSFORMS.register_module()
class ClipRandAugment(BaseTransform):
    """RandAugment with one draw per clip, as in the official UniFormer
    video training (timm's RandAugment over the list of frames).

    Per clip: ``n`` operations chosen uniformly with replacement from the
    policy's set; each is applied with probability 0.5, with a magnitude
    drawn from N(m, mstd) and clipped to [0, 10], and a random sign where
    the operation has one. The same operations with the same arguments
    transform every frame, so motion between frames is preserved.
    Random numbers come from NumPy's global generator, which MMEngine seeds
    (``randomness=dict(seed=...)``) per dataloader worker.

    Required keys: ``imgs`` (HxWx3 uint8 RGB frames: use it straight after
    ``PyAVDecode`` / ``DecordDecode`` / ``RawFrameDecode``).
    Modified keys: ``imgs`` (same sizes).

    Args:
        policy (str): A timm / official ``AUG.AA_TYPE`` string (see
            :func:`parse_policy`): ``'rand-m7-n4-mstd0.5-inc1'`` for the
            dense UniFormer runs, ``'rand-m5-n2-mstd0.25'`` for the
            hourglass XXS and the UCF101 / HMDB51 fine-tuning, ``'rand'``
            for XXS 4 / 8 frames. Defaults to
            ``'rand-m7-n4-mstd0.5-inc1'``.
        interpolation (str): Resampling of rotation, shear and translation:
            ``'bicubic'`` (official ``AUG.INTERPOLATION``), ``'bilinear'``
            or ``'nearest'``. Defaults to ``'bicubic'``.
        fill (Sequence[int]): RGB value of the pixels uncovered by a
            geometric operation. Defaults to (128, 128, 128), the official
            fill.

    Example:
        >>> dict(type='ClipRandAugment', policy='rand-m7-n4-mstd0.5-inc1')
    """

    def __init__(self,
                 policy: str = 'rand-m7-n4-mstd0.5-inc1',
                 interpolation: str = 'bicubic',
                 fill: Sequence[int] = FILL):
        self.policy = policy
        self.parsed = parse_policy(policy)
        self.interpolation = interpolation
        self._ctx = _context(interpolation, fill)
        self.fill = self._ctx['fill']

    def sample_magnitude(self) -> float:
        """One magnitude: N(m, mstd) when mstd > 0, clipped to [0, 10]."""
        magnitude = self.parsed.magnitude
        if self.parsed.magnitude_std > 0:
            magnitude = np.random.normal(magnitude, self.parsed.magnitude_std)
        return float(min(MAX_LEVEL, max(0.0, magnitude)))

    def sample_ops(self) -> List[Tuple[str, Optional[Union[int, float]]]]:
        """Draw the operations for one clip: ``[(name, argument), ...]``,
        only those that passed their 0.5 coin, in order of application."""
        ops = self.parsed.ops
        drawn = []
        for index in np.random.randint(len(ops), size=self.parsed.num_layers):
            if np.random.rand() > OP_PROB:
                continue
            name = ops[index]
            magnitude = self.sample_magnitude()
            sign = 1
            if name in _SIGNED and np.random.rand() > 0.5:
                sign = -1
            drawn.append((name, op_argument(name, magnitude, sign)))
        return drawn

    def apply(self, frames: Sequence[np.ndarray],
              ops: Sequence[Tuple[str, object]]) -> List[np.ndarray]:
        """Apply the drawn ``ops`` to every frame; new arrays."""
        for i, f in enumerate(frames):
            _check_frame(f, f'imgs[{i}]')
        # new arrays: later in-place transforms (Flip) need them writable
        return _apply(frames, ops, self._ctx)

    def transform(self, results: Dict) -> Dict:
        """Augment ``results['imgs']`` with one draw for the whole clip."""
        frames = results['imgs']
        if isinstance(frames, np.ndarray) and frames.ndim == 4:
            frames = list(frames)  # a T x H x W x 3 stack
        if not isinstance(frames, (list, tuple)):
            raise TypeError(
                "ClipRandAugment expects results['imgs'] to be a list of "
                f'HxWx3 uint8 RGB frames, got {type(frames).__name__}; put '
                'it right after the decoder')
        for i, frame in enumerate(frames):
            _check_frame(frame, f'imgs[{i}]')
        ops = self.sample_ops()
        if ops:
            results['imgs'] = self.apply(frames, ops)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(policy={self.policy!r}, '
                f'interpolation={self.interpolation!r}, fill={self.fill})')
