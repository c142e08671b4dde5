import pytest

from uniformer_mm.models import ARCH_ZOO_2D, ARCH_ZOO_3D, resolve_arch


def test_presets_and_aliases():
    small = resolve_arch('small', ARCH_ZOO_2D, 'UniFormer')
    assert small == resolve_arch('S', ARCH_ZOO_2D, 'UniFormer')
    assert small['depths'] == [3, 4, 8, 3]
    assert small['head_dim'] == 64
    assert small['mlp_ratios'] == [4.0] * 4
    assert small['layer_scale'] == [False] * 4
    assert resolve_arch('small_hd32', ARCH_ZOO_2D, 'U')['head_dim'] == 32
    plus = resolve_arch('s+', ARCH_ZOO_2D, 'U')
    assert plus['conv_stem'] and plus['depths'] == [3, 5, 9, 3]
    assert plus['head_dim'] == 64
    large = resolve_arch('large-ls', ARCH_ZOO_2D, 'U')
    assert large['embed_dims'] == [128, 192, 448, 640]
    assert large['layer_scale'] == [True] * 4
    assert resolve_arch('base-ls', ARCH_ZOO_2D,
                        'U')['layer_scale'] == [False, False, True, True]
    assert resolve_arch('b', ARCH_ZOO_3D, 'U')['depths'] == [5, 8, 20, 7]


def test_presets_are_not_shared_state():
    arch = resolve_arch('small', ARCH_ZOO_2D, 'U')
    arch['depths'][0] = 99
    assert ARCH_ZOO_2D['small']['depths'][0] == 3


def test_dict_arch_normalised():
    arch = resolve_arch(
        dict(
            depths=[1, 1, 1, 1],
            embed_dims=[8, 16, 32, 64],
            head_dim=16,
            mlp_ratios=[1, 2, 3, 4.5]), ARCH_ZOO_2D, 'U')
    assert arch['mlp_ratios'] == [1.0, 2.0, 3.0, 4.5]
    assert arch['conv_stem'] is False


def test_unknown_preset_lists_valid_ones():
    with pytest.raises(ValueError) as info:
        resolve_arch('smal', ARCH_ZOO_2D, 'UniFormer')
    message = str(info.value)
    assert "'smal'" in message
    for name in ('small', 'small-hd32', 'small-plus', 'small-plus-hd32',
                 'base', 'base-hd32', 'base-ls', 'large-ls'):
        assert f"'{name}'" in message


@pytest.mark.parametrize('arch, fragment', [
    (dict(depths=[3, 4, 8, 3], embed_dims=[64, 128, 320, 512
                                           ]), "missing keys ['head_dim']"),
    (dict(depths=[3, 4, 8], embed_dims=[64, 128, 320, 512],
          head_dim=64), 'depths'),
    (dict(depths=[3, 4, 8, 3], embed_dims=[64, 128, 320, 500],
          head_dim=64), 'divisible'),
    (dict(
        depths=[3, 4, 8, 3],
        embed_dims=[64, 128, 320, 512],
        head_dim=64,
        mlp_ratio=4), "unknown keys ['mlp_ratio']"),
    (dict(
        depths=[3, 4, 8, 3],
        embed_dims=[64, 128, 320, 512],
        head_dim=64,
        mlp_ratios=[4, 4]), 'mlp_ratios'),
    (dict(
        depths=[3, 4, 8, 3],
        embed_dims=[64, 128, 320, 512],
        head_dim=64,
        layer_scale='yes'), 'layer_scale'),
    (dict(depths=[3, 4, 8, 3], embed_dims=[64, 128, 320, 512],
          head_dim=0), 'head_dim'),
])
def test_malformed_dict(arch, fragment):
    with pytest.raises(ValueError) as info:
        resolve_arch(arch, ARCH_ZOO_2D, 'UniFormer')
    assert fragment in str(info.value)


def test_wrong_type():
    with pytest.raises(TypeError, match='preset name or a dict'):
        resolve_arch(3, ARCH_ZOO_2D, 'UniFormer')


def test_light_arch_errors_name_the_presets_and_reject_bools():
    from uniformer_mm.models.arch import ARCH_ZOO_LIGHT_2D, resolve_light_arch
    tiny = dict(depths=[1, 1, 3, 2], embed_dims=[8, 16, 32, 64], head_dim=16)
    # a missing key named the (empty) presets of an inner call before
    with pytest.raises(ValueError, match=r"\['head_dim'\].*'xxs', 'xs'"):
        resolve_light_arch(
            dict(depths=tiny['depths'], embed_dims=tiny['embed_dims']),
            ARCH_ZOO_LIGHT_2D, 'UniFormerLight')
    # bools are ints in Python: never a trade-off, a depth or a ratio
    for bad, fragment in (
        (dict(trade_offs=[[], [], [1, False, .5], [.5, .5]]),
         r'trade_offs\[2\]\[1\]'),
        (dict(depths=[1, True, 3, 2]), "arch\\['depths'\\]"),
        (dict(mlp_ratios=True), "arch\\['mlp_ratios'\\]"),
    ):
        with pytest.raises(ValueError, match=fragment):
            resolve_light_arch(dict(tiny, **bad), ARCH_ZOO_LIGHT_2D, 'U')
    zero = resolve_light_arch(
        dict(tiny, trade_offs=[[], [], [1, 0, .5], [.5, .5]], mlp_ratios=3),
        ARCH_ZOO_LIGHT_2D, 'U')
    assert zero['trade_offs'][2] == [1.0, 0.0, 0.5]
    assert zero['mlp_ratios'] == [3.0] * 4
