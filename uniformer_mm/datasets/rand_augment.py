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
        images = [
            Image.fromarray(_check_frame(f, f'imgs[{i}]'))
            for i, f in enumerate(frames)
        ]
        for name, arg in ops:
            images = [_OPS[name](img, arg, self._ctx) for img in images]
        # np.array copies: later in-place transforms (Flip) need writable
        return [np.array(img) for img in images]

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
