"""ClipRandAugment: the official UniFormer video RandAugment on numpy/PIL.

Each operation is checked against an independent numpy computation on one
frame, the magnitude -> argument mapping of the plain and the "increasing"
sets at known magnitudes, the magnitude noise, the policy parser, and that
every frame of a clip gets the same operations.
"""
import numpy as np
import pytest

from uniformer_mm.datasets.rand_augment import (FILL, RAND_INCREASING_OPS,
                                                RAND_OPS, ClipRandAugment,
                                                apply_op, op_argument,
                                                parse_policy)

DENSE = 'rand-m7-n4-mstd0.5-inc1'
HOURGLASS = 'rand-m5-n2-mstd0.25'
GEOMETRIC = ('Rotate', 'ShearX', 'ShearY', 'TranslateXRel', 'TranslateYRel')


def _frame(seed=0, shape=(48, 64), low=0, high=256):
    rng = np.random.default_rng(seed)
    return rng.integers(low, high, (*shape, 3), dtype=np.uint8)


def _centroid(frame, threshold=200):
    """Centroid (x, y) of the bright pixels, in continuous coordinates
    (pixel i covers [i, i + 1))."""
    ys, xs = np.nonzero(frame[..., 0] > threshold)
    assert len(xs), 'the marker left the frame'
    return xs.mean() + 0.5, ys.mean() + 0.5


def _dot(shape=(64, 80), centre=(50, 20), half=2):
    """Black frame with a white square around pixel ``centre`` (x, y)."""
    frame = np.zeros((*shape, 3), np.uint8)
    x, y = centre
    frame[y - half:y + half + 1, x - half:x + half + 1] = 255
    return frame


# ------------------------------------------------------------- policies
@pytest.mark.parametrize(
    'policy,expected',
    [
        (DENSE, (7.0, 4, 0.5, True)),
        (HOURGLASS, (5.0, 2, 0.25, False)),
        ('rand', (10.0, 2, 0.0, False)),  # timm defaults: m10, n2, no noise
        ('rand-n3-inc0-m9', (9.0, 3, 0.0, False)),  # any order
    ])
def test_policy_strings(policy, expected):
    parsed = parse_policy(policy)
    assert tuple(parsed) == expected
    assert parsed.ops == (RAND_INCREASING_OPS if expected[3] else RAND_OPS)


def test_operation_sets():
    plain, inc = set(RAND_OPS), set(RAND_INCREASING_OPS)
    assert len(plain) == len(inc) == 15
    # the increasing set swaps exactly the six magnitude-decreasing ops
    swapped = {
        'Posterize', 'Solarize', 'Color', 'Contrast', 'Brightness', 'Sharpness'
    }
    assert plain - inc == swapped
    assert inc - plain == {name + 'Increasing' for name in swapped}


@pytest.mark.parametrize('policy,match', [
    ('rnd-m7-n4', "must start with 'rand'"),
    ('', "must start with 'rand'"),
    ('rand-m7-x3', "cannot read field 'x3'"),
    ('rand-mstd', "cannot read field 'mstd'"),
    ('rand-m7.5', "'m' needs an integer"),
    ('rand-mstd0.5x', "'mstd' needs a number"),
    ('rand-m11', 'magnitude m must be 0-10'),
    ('rand-m7-m5', "sets 'm' twice"),
    ('rand-inc2', 'inc must be 0 or 1'),
    ('rand-m9-w0', 'not supported'),
])
def test_bad_policy_strings_are_named(policy, match):
    with pytest.raises(ValueError, match=match):
        parse_policy(policy)
    with pytest.raises(ValueError, match=match):
        ClipRandAugment(policy=policy)


def test_bad_arguments():
    with pytest.raises(TypeError, match='policy must be a string'):
        ClipRandAugment(policy=7)
    with pytest.raises(ValueError, match='interpolation must be one of'):
        ClipRandAugment(interpolation='cubic')
    with pytest.raises(ValueError, match='fill must be three'):
        ClipRandAugment(fill=(300, 0, 0))
    with pytest.raises(KeyError, match='unknown RandAugment operation'):
        op_argument('Blur', 5)


def test_bad_frames_name_the_fix():
    t = ClipRandAugment('rand-m5-n2')
    frames = [_frame().astype(np.float32)]  # e.g. after Normalize
    with pytest.raises(TypeError, match=r'imgs\[0\].*float32.*decoder'):
        t(dict(imgs=frames))
    with pytest.raises(TypeError, match='list of HxWx3'):
        t(dict(imgs='clip.mp4'))


# ------------------------------------------- magnitude -> argument
@pytest.mark.parametrize(
    'name,magnitude,sign,expected',
    [
        # plain set: Posterize/Solarize weaken as the magnitude grows,
        # enhancements go from 0.1 (m0) to 1.9 (m10)
        ('Posterize', 7, 1, 2),
        ('Posterize', 5, 1, 2),
        ('Posterize', 0, 1, 0),
        ('Posterize', 10, 1, 4),
        ('Solarize', 7, 1, 179),
        ('Solarize', 0, 1, 0),
        ('Solarize', 10, 1, 256),
        ('Color', 7, 1, 1.36),
        ('Color', 7, -1, 1.36),
        ('Contrast', 0, 1, 0.1),
        ('Brightness', 5, -1, 1.0),
        ('Sharpness', 10, 1, 1.9),
        # increasing set: stronger with the magnitude, random sign on factors
        ('PosterizeIncreasing', 7, 1, 2),
        ('PosterizeIncreasing', 0, 1, 4),
        ('PosterizeIncreasing', 10, 1, 0),
        ('SolarizeIncreasing', 7, 1, 77),
        ('SolarizeIncreasing', 0, 1, 256),
        ('SolarizeIncreasing', 10, 1, 0),
        ('ColorIncreasing', 7, 1, 1.63),
        ('ContrastIncreasing', 7, -1, 0.37),
        ('BrightnessIncreasing', 0, -1, 1.0),
        ('SharpnessIncreasing', 10, -1, 0.1),
        # shared by both sets
        ('Rotate', 7, 1, 21.0),
        ('Rotate', 7, -1, -21.0),
        ('Rotate', 10, 1, 30.0),
        ('ShearX', 5, -1, -0.15),
        ('ShearY', 10, 1, 0.3),
        ('TranslateXRel', 7, -1, -0.315),
        ('TranslateYRel', 10, 1, 0.45),
        ('SolarizeAdd', 7, 1, 77),
        ('SolarizeAdd', 10, -1, 110),
        ('AutoContrast', 7, 1, None),
        ('Equalize', 7, -1, None),
        ('Invert', 7, 1, None),
    ])
def test_magnitude_to_argument(name, magnitude, sign, expected):
    arg = op_argument(name, magnitude, sign)
    if isinstance(expected, int) or expected is None:
        assert arg == expected and type(arg) is type(expected)
    else:
        assert arg == pytest.approx(expected)


# ---------------------------------------------- operations on a frame
def test_invert_posterize_solarize_exact():
    frame = _frame()
    x = frame.astype(np.int32)
    np.testing.assert_array_equal(apply_op(frame, 'Invert'), 255 - x)
    for bits in (0, 1, 2, 4):
        kept = x // 2**(8 - bits) * 2**(8 - bits)  # the top `bits` bits
        np.testing.assert_array_equal(apply_op(frame, 'Posterize', bits), kept)
    np.testing.assert_array_equal(apply_op(frame, 'Posterize', 8), frame)
    for thresh in (0, 77, 128, 256):
        expected = np.where(x < thresh, x, 255 - x)
        np.testing.assert_array_equal(
            apply_op(frame, 'Solarize', thresh), expected)
        np.testing.assert_array_equal(
            apply_op(frame, 'SolarizeIncreasing', thresh), expected)
    for add in (0, 40, 110):
        expected = np.where(x < 128, np.minimum(x + add, 255), x)
        np.testing.assert_array_equal(
            apply_op(frame, 'SolarizeAdd', add), expected)


def test_auto_contrast_stretches_each_channel():
    frame = _frame()
    frame[..., 0] = frame[..., 0] // 4 + 60  # 60..123
    frame[..., 1] = frame[..., 1] // 2 + 100  # 100..227
    x = frame.astype(np.float64)
    lo, hi = x.min(axis=(0, 1)), x.max(axis=(0, 1))
    expected = (x - lo) * 255 / (hi - lo)
    out = apply_op(frame, 'AutoContrast')
    assert np.abs(out - expected).max() <= 1
    assert (out.min(axis=(0, 1)) == 0).all()
    assert (out.max(axis=(0, 1)) == 255).all()


def test_equalize_spreads_the_histogram():
    # four grey levels, a quarter of the pixels each: equalized to the
    # quartiles of 0..255
    levels = np.array([10, 20, 30, 40], np.uint8)
    frame = np.repeat(levels, 16 * 64 * 3).reshape(64, 64, 3)
    out = apply_op(frame, 'Equalize')
    for level, target in zip(levels, (0, 85, 170, 255)):
        assert np.abs(out[frame == level].astype(int) - target).max() <= 1


def _grey(x):
    return x @ np.array([0.299, 0.587, 0.114])


@pytest.mark.parametrize('factor', [0.1, 0.37, 1.0, 1.63, 1.9])
def test_enhancements_blend_with_their_degenerate_image(factor):
    frame = _frame(seed=1)
    x = frame.astype(np.float64)

    def check(name, degenerate, tol=1.5, interior=False):
        expected = np.clip(degenerate + factor * (x - degenerate), 0, 255)
        for variant in (name, name + 'Increasing'):
            out = apply_op(frame, variant, factor).astype(np.float64)
            diff = np.abs(out - expected)
            if interior:
                diff = diff[1:-1, 1:-1]
            assert diff.max() <= tol, variant

    # Color: towards the frame's own grey version
    check('Color', _grey(x)[..., None])
    # Contrast: towards the mean grey level of the frame
    check('Contrast', np.round(_grey(x).mean()))
    # Brightness: towards black
    check('Brightness', 0.0)
    # Sharpness: towards the 3x3 smoothed frame (centre weight 5 of 13)
    kernel = np.ones((3, 3))
    kernel[1, 1] = 5
    smooth = np.zeros_like(x)
    for dy in range(3):
        for dx in range(3):
            smooth += kernel[dy, dx] * np.roll(x, (1 - dy, 1 - dx), (0, 1))
    check('Sharpness', np.round(smooth / 13), interior=True)


@pytest.mark.parametrize('degrees', [30.0, -21.0])
def test_rotate_turns_counter_clockwise_about_the_centre(degrees):
    frame = _dot()
    h, w = frame.shape[:2]
    out = apply_op(frame, 'Rotate', degrees)
    x, y = _centroid(frame)
    vx, vy = x - w / 2, y - h / 2
    t = np.deg2rad(degrees)  # counter-clockwise on screen (y points down)
    expected = (w / 2 + vx * np.cos(t) + vy * np.sin(t),
                h / 2 - vx * np.sin(t) + vy * np.cos(t))
    assert _centroid(out) == pytest.approx(expected, abs=0.3)
    # uncovered corners get the official grey
    assert tuple(out[0, 0]) == tuple(out[-1, -1]) == FILL


@pytest.mark.parametrize('factor', [0.3, -0.21])
def test_shear_moves_each_row_by_factor_times_y(factor):
    # a vertical bar: row y of the output shows it at x_bar - factor * y
    frame = np.zeros((40, 80, 3), np.uint8)
    frame[:, 39:42] = 255  # centred at x = 40.5
    out = apply_op(frame, 'ShearX', factor)
    for row in range(0, 40, 7):
        xs = np.nonzero(out[row, :, 0] > 200)[0]
        assert xs.mean() + 0.5 == pytest.approx(
            40.5 - factor * (row + 0.5), abs=0.3)
    # ShearY: the same on the transposed frame
    out = apply_op(frame.transpose(1, 0, 2).copy(), 'ShearY', factor)
    for col in range(0, 40, 7):
        ys = np.nonzero(out[:, col, 0] > 200)[0]
        assert ys.mean() + 0.5 == pytest.approx(
            40.5 - factor * (col + 0.5), abs=0.3)


@pytest.mark.parametrize('pct', [0.3, -0.3])
def test_translate_shifts_by_a_fraction_of_the_size(pct):
    frame = _frame(shape=(50, 100))
    shift_x, shift_y = round(pct * 100), round(pct * 50)  # 30 / 15 pixels
    fill = np.array(FILL, np.uint8)
    out = apply_op(frame, 'TranslateXRel', pct)
    if pct > 0:  # content moves left
        np.testing.assert_array_equal(out[:, :-shift_x], frame[:, shift_x:])
        assert (out[:, -shift_x:] == fill).all()
    else:
        np.testing.assert_array_equal(out[:, -shift_x:], frame[:, :shift_x])
        assert (out[:, :-shift_x] == fill).all()
    out = apply_op(frame, 'TranslateYRel', pct)
    if pct > 0:  # content moves up
        np.testing.assert_array_equal(out[:-shift_y], frame[shift_y:])
    else:
        np.testing.assert_array_equal(out[-shift_y:], frame[:shift_y])


def test_fill_and_interpolation_are_configurable():
    frame = _dot()
    out = apply_op(
        frame, 'Rotate', 30.0, interpolation='nearest', fill=(0, 255, 0))
    assert tuple(out[0, 0]) == (0, 255, 0)
    assert set(np.unique(out)) <= {0, 255}  # nearest: no new values


# --------------------------------------------------- sampling
def test_magnitude_noise_is_gaussian_and_clipped():
    np.random.seed(0)
    for policy, mean, std in ((DENSE, 7, 0.5), (HOURGLASS, 5, 0.25)):
        t = ClipRandAugment(policy)
        m = np.array([t.sample_magnitude() for _ in range(20000)])
        assert m.mean() == pytest.approx(mean, abs=0.02)
        assert m.std() == pytest.approx(std, rel=0.03)
    # N(10, 1) is clipped at 10: half the draws sit on the bound
    m = np.array([
        ClipRandAugment('rand-m10-mstd1').sample_magnitude()
        for _ in range(4000)
    ])
    assert m.max() == 10 and (m == 10).mean() == pytest.approx(0.5, abs=0.03)
    m = np.array([
        ClipRandAugment('rand-m0-mstd1').sample_magnitude()
        for _ in range(4000)
    ])
    assert m.min() == 0 and (m == 0).mean() == pytest.approx(0.5, abs=0.03)
    # no mstd: the magnitude is fixed
    assert {ClipRandAugment('rand-m5').sample_magnitude()
            for _ in range(50)} == {5.0}


def test_op_choice_probability_and_signs():
    np.random.seed(1)
    t = ClipRandAugment(DENSE)
    clips = [t.sample_ops() for _ in range(4000)]
    # 4 ops drawn, each applied with probability 0.5
    assert np.mean([len(c) for c in clips]) == pytest.approx(2.0, abs=0.05)
    names = [name for c in clips for name, _ in c]
    assert set(names) == set(RAND_INCREASING_OPS)
    counts = np.array([names.count(n) for n in RAND_INCREASING_OPS])
    assert counts.min() > 0.8 * len(names) / 15  # uniform choice
    rotations = np.array([arg for c in clips for n, arg in c if n == 'Rotate'])
    assert (rotations < 0).mean() == pytest.approx(0.5, abs=0.06)
    # |angle| = 30 * m / 10 with m ~ N(7, 0.5)
    assert np.abs(rotations).mean() == pytest.approx(21, abs=0.3)
    # hourglass policy: plain ops only, 2 drawn
    t = ClipRandAugment(HOURGLASS)
    names = {n for _ in range(500) for n, _ in t.sample_ops()}
    assert names <= set(RAND_OPS) and 'Solarize' in names


# --------------------------------------------------- whole clips
def test_identical_frames_stay_identical():
    frame = _frame(seed=2)
    t = ClipRandAugment('rand-m9-n4-mstd0.5-inc1')
    for name in RAND_INCREASING_OPS + RAND_OPS:
        arg = op_argument(name, 6.5, -1)
        out = t.apply([frame] * 5, [(name, arg)])
        assert all(np.array_equal(o, out[0]) for o in out), name
    for seed in range(10):
        np.random.seed(seed)
        out = t(dict(imgs=[frame.copy() for _ in range(6)]))['imgs']
        assert all(np.array_equal(o, out[0]) for o in out)


@pytest.mark.parametrize('name', GEOMETRIC)
def test_every_frame_gets_the_same_geometric_transform(name):
    # the same white square on a different dark texture in every frame:
    # it must land at the same place in all of them
    rng = np.random.default_rng(3)
    frames = []
    for _ in range(4):
        frame = _dot(centre=(50, 24))
        frame[frame == 0] = rng.integers(0, 40, int((frame == 0).sum()))
        frames.append(frame)
    t = ClipRandAugment()
    before = _centroid(frames[0])
    out = t.apply(frames, [(name, op_argument(name, 6.0, -1))])
    centres = np.array([_centroid(o) for o in out])
    assert np.ptp(centres, axis=0).max() < 0.3  # texture shifts the edge
    assert np.abs(centres[0] - before).max() > 2  # it did move


def test_clip_equals_its_ops_applied_frame_by_frame():
    frames = [_frame(seed=10 + i, shape=(32, 40)) for i in range(5)]
    t = ClipRandAugment(DENSE)
    applied = 0
    for seed in range(12):
        np.random.seed(seed)
        ops = t.sample_ops()
        np.random.seed(seed)
        out = t(dict(imgs=[f.copy() for f in frames]))['imgs']
        for frame, result in zip(frames, out):
            expected = frame
            for name, arg in ops:
                expected = apply_op(expected, name, arg)
            np.testing.assert_array_equal(result, expected)
            assert result.flags.writeable  # Flip works in place
        applied += bool(ops)
    assert applied >= 8


def test_seeded_runs_are_reproducible():
    frames = [_frame(seed=20 + i, shape=(32, 40)) for i in range(3)]
    t = ClipRandAugment(DENSE)

    def run(seed):
        np.random.seed(seed)
        return [t(dict(imgs=list(frames)))['imgs'] for _ in range(5)]

    first, again, other = run(0), run(0), run(1)
    for a, b in zip(first, again):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert any(not all(np.array_equal(x, y) for x, y in zip(a, b))
               for a, b in zip(first, other))


def test_registered_and_takes_a_frame_stack():
    # (built from a config in tests/datasets/test_video_train_pipeline.py)
    from mmaction.registry import TRANSFORMS
    assert TRANSFORMS.module_dict['ClipRandAugment'] is ClipRandAugment
    t = ClipRandAugment(policy=HOURGLASS)
    assert repr(t) == ("ClipRandAugment(policy='rand-m5-n2-mstd0.25', "
                       "interpolation='bicubic', fill=(128, 128, 128))")
    stack = np.stack([_frame(seed=i, shape=(24, 32)) for i in range(3)])
    np.random.seed(0)
    out = t(dict(imgs=stack))['imgs']
    assert len(out) == 3 and all(o.shape == (24, 32, 3) for o in out)


# ------------------------------------- whole-clip ops = the PIL ones
def _video_like(shape=(37, 53), frames=3, seed=5):
    """Frames with what makes interpolation land on or near integers:
    smooth texture, flat patches, saturated 0 and 255 areas, hard edges."""
    import cv2
    rng = np.random.default_rng(seed)
    out = []
    for i in range(frames):
        noise = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
        frame = cv2.GaussianBlur(noise, (0, 0), 1.5 + i)
        frame[3:12, 5:20] = (255, 0, 0)
        frame[-6:, :] = 0
        frame[:, -4:] = 255
        frame[15:25:2, 30:45] = 255 - frame[15:25:2, 30:45]
        out.append(frame)
    return out


@pytest.mark.parametrize('name,args', [
    ('ShearX', (0.3, -0.3, 0.21, -0.0, 0.0, 0.0417)),
    ('ShearY', (0.3, -0.3, -0.15, 0.0)),
    ('TranslateXRel', (0.45, -0.45, 0.315, -0.1, 0.0, 0.99, -0.99, 0.25)),
    ('TranslateYRel', (0.45, -0.45, -0.2, 0.0137, 1.2, 0.25)),
    ('Invert', (None, )),
    ('Posterize', (0, 1, 4, 8)),
    ('PosterizeIncreasing', (0, 2, 4)),
    ('Solarize', (0, 77, 179, 256)),
    ('SolarizeIncreasing', (256, 77, 0)),
    ('SolarizeAdd', (0, 40, 110)),
])
def test_whole_clip_ops_give_the_pil_pixels(name, args):
    """The ops computed on the whole T x H x W x 3 clip (OpenCV tables,
    float32 row filters with the values near an integer redone in float64)
    return exactly PIL's pixels, at every argument the policy can draw and
    at the ends of its ranges."""
    from uniformer_mm.datasets.rand_augment import (_apply, _apply_pil,
                                                    _clip_op, _context)
    ctx = _context('bicubic', FILL)
    assert _clip_op(name, ctx) is not None
    for shape, bits in (((37, 53), 8), ((64, 48), 8), ((1, 9), 8), ((37, 53),
                                                                    2)):
        # bits 2: posterized, flat almost everywhere (exact integers)
        # 6 frames: more than one chunk of the row filters (_CHUNK)
        frames = [
            f & np.uint8((0xFF << (8 - bits)) & 0xFF)
            for f in _video_like(shape, frames=6)
        ]
        for arg in args:
            fast = _apply(frames, [(name, arg)], ctx)
            for a, b in zip(fast, _apply_pil(frames, [(name, arg)], ctx)):
                np.testing.assert_array_equal(a, b, err_msg=f'{name} {arg}')
                assert a.flags.writeable


def test_whole_clip_ops_mixed_with_pil_ones():
    """Seeded draws of the dense policy (chains of clip and PIL ops, in any
    order): the same frames as every op on every frame with PIL."""
    from uniformer_mm.datasets.rand_augment import _apply_pil
    frames = _video_like((40, 56), frames=4, seed=8)
    t = ClipRandAugment('rand-m9-n4-mstd0.5-inc1')
    fast_ops = 0
    for seed in range(40):
        np.random.seed(seed)
        ops = t.sample_ops()
        np.random.seed(seed)
        out = t(dict(imgs=[f.copy() for f in frames]))['imgs']
        if ops:
            expected = _apply_pil(frames, ops, t._ctx)
        else:
            expected = frames
        for a, b in zip(out, expected):
            np.testing.assert_array_equal(a, b)
        fast_ops += sum(n.startswith(('Shear', 'Translate')) for n, _ in ops)
    assert fast_ops >= 5


def test_other_interpolations_stay_with_pil():
    from uniformer_mm.datasets.rand_augment import (_apply, _apply_pil,
                                                    _clip_op, _context)
    frames = _video_like()
    for interpolation in ('bilinear', 'nearest'):
        ctx = _context(interpolation, (0, 10, 20))
        assert _clip_op('ShearX', ctx) is None
        assert _clip_op('Invert', ctx) is not None  # no resampling
        ops = [('ShearX', 0.2), ('Invert', None), ('TranslateYRel', -0.3)]
        for a, b in zip(
                _apply(frames, ops, ctx), _apply_pil(frames, ops, ctx)):
            np.testing.assert_array_equal(a, b)


def test_whole_clip_ops_leave_the_input_alone():
    from uniformer_mm.datasets.rand_augment import _apply, _context
    frames = _video_like()
    before = [f.copy() for f in frames]
    out = _apply(frames, [('TranslateXRel', 0.3), ('Invert', None)],
                 _context('bicubic', FILL))
    for f, b, o in zip(frames, before, out):
        np.testing.assert_array_equal(f, b)
        assert not np.shares_memory(f, o)
