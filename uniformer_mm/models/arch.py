"""Architecture presets of the UniFormer family and validation of ``arch``."""
import copy
from numbers import Real
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Union

REQUIRED_KEYS = ('depths', 'embed_dims', 'head_dim')
OPTIONAL_KEYS = ('mlp_ratios', 'conv_stem', 'layer_scale')

_SMALL = dict(depths=[3, 4, 8, 3], embed_dims=[64, 128, 320, 512])
_SMALL_PLUS = dict(
    depths=[3, 5, 9, 3], embed_dims=[64, 128, 320, 512], conv_stem=True)
_BASE = dict(depths=[5, 8, 20, 7], embed_dims=[64, 128, 320, 512])
_LARGE = dict(depths=[5, 10, 24, 7], embed_dims=[128, 192, 448, 640])
# A test-size model, registered like the others (as timm's ``test_*``
# models) so every test builds the same small network: four stage-3 blocks
# give 'hybrid' both a global and windowed blocks; stages 3-4 have 4 and 8
# heads. Random weights only: no checkpoint has these shapes.
_TEST = dict(depths=[1, 1, 4, 1], embed_dims=[16, 32, 64, 128], head_dim=16)


def _preset(base: dict, **overrides) -> dict:
    arch = dict(mlp_ratios=4, conv_stem=False, layer_scale=False)
    arch.update(base)
    arch.update(overrides)
    return arch


# Every 2D architecture the official repository releases ImageNet weights
# for. Names without a suffix use head_dim 64: the setting of every official
# detection / segmentation / pose / video model. Official file -> preset:
#   uniformer_small_in1k.pth, uniformer_small_dim64 token-labeling -> small
#   uniformer_small token-labeling (head_dim 32)             -> small-hd32
#   uniformer_small_plus_dim64 (ImageNet or token-labeling) -> small-plus
#   uniformer_small_plus (ImageNet or token-labeling, head_dim 32)
#                                                      -> small-plus-hd32
#   uniformer_base_in1k.pth, uniformer_base_dim64 token-labeling   -> base
#   uniformer_base token-labeling (head_dim 32)                    -> base-hd32
#   uniformer_base_ls_in1k.pth                                     -> base-ls
#   uniformer_large_ls token-labeling                              -> large-ls
ARCH_ZOO_2D: Dict[str, dict] = {
    **dict.fromkeys(['small', 's'], _preset(_SMALL, head_dim=64)),
    **dict.fromkeys(['small-hd32', 's-hd32'], _preset(_SMALL, head_dim=32)),
    **dict.fromkeys(['small-plus', 's-plus', 's+'],
                    _preset(_SMALL_PLUS, head_dim=64)),
    **dict.fromkeys(['small-plus-hd32', 's-plus-hd32', 's+-hd32'],
                    _preset(_SMALL_PLUS, head_dim=32)),
    **dict.fromkeys(['base', 'b'], _preset(_BASE, head_dim=64)),
    **dict.fromkeys(['base-hd32', 'b-hd32'], _preset(_BASE, head_dim=32)),
    # ImageNet B+LS scales the attention blocks only; token-labeling L+LS
    # scales every block.
    **dict.fromkeys(['base-ls', 'b-ls'],
                    _preset(
                        _BASE,
                        head_dim=64,
                        layer_scale=[False, False, True, True])),
    **dict.fromkeys(['large-ls', 'l-ls', 'large', 'l'],
                    _preset(_LARGE, head_dim=64, layer_scale=True)),
    'test':
    _preset(_TEST),
}

# The model names the official ImageNet code released (``args.model`` in its
# files) -> the preset of the plain ImageNet and of the token-labeling
# release (None: not released that way). Only these names say a head_dim;
# the shapes of a file do not.
OFFICIAL_IMAGENET_NAMES: Dict[str, tuple] = {
    'uniformer_small': ('small', 'small-hd32'),
    'uniformer_small_dim64': (None, 'small'),
    'uniformer_small_plus': ('small-plus-hd32', 'small-plus-hd32'),
    'uniformer_small_plus_dim64': ('small-plus', 'small-plus'),
    'uniformer_base': ('base', 'base-hd32'),
    'uniformer_base_dim64': (None, 'base'),
    'uniformer_base_ls': ('base-ls', None),
    'uniformer_large_ls': (None, 'large-ls'),
}

# The video models of the ICLR paper (Kinetics / Something-Something).
ARCH_ZOO_3D: Dict[str, dict] = {
    **dict.fromkeys(['small', 's'], _preset(_SMALL, head_dim=64)),
    **dict.fromkeys(['base', 'b'], _preset(_BASE, head_dim=64)),
    'test':
    _preset(_TEST),
}

#: presets of test size, not of a released model
TEST_PRESETS = ('test', )


def preset_aliases(zoo: Mapping[str, dict]) -> Dict[str, List[str]]:
    """Canonical preset name (its longest alias) -> its other aliases."""
    groups: Dict[int, List[str]] = {}
    for name, arch in zoo.items():
        groups.setdefault(id(arch), []).append(name)
    out = {}
    for names in groups.values():
        canonical = max(names, key=len)
        out[canonical] = sorted(set(names) - {canonical})
    return out


def _preset_names(zoo: Mapping[str, dict]) -> str:
    return ', '.join(f"'{name}'" +
                     (f" (aliases: {', '.join(aliases)})" if aliases else '')
                     for name, aliases in preset_aliases(zoo).items())


def _from_zoo(arch: Union[str, Mapping], zoo: Mapping[str, dict], owner: str,
              optional: Sequence[str]) -> dict:
    """A copy of the preset ``arch`` names (case-insensitive, ``_`` as
    ``-``), or of the dict ``arch`` with the required keys and no others
    than ``optional``; errors list the presets and the keys."""
    hint = (f'Valid presets: {_preset_names(zoo)}; or a dict with keys '
            f'{list(REQUIRED_KEYS)} and optionally {list(optional)}.')
    if isinstance(arch, str):
        if arch.lower().replace('_', '-') not in zoo:
            raise ValueError(f'Unknown {owner} arch {arch!r}. {hint}')
        arch = zoo[arch.lower().replace('_', '-')]
    if not isinstance(arch, Mapping):
        raise TypeError(f'{owner} arch must be a preset name or a dict, got '
                        f'{type(arch).__name__}. {hint}')
    missing = [k for k in REQUIRED_KEYS if k not in arch]
    unknown = [k for k in arch if k not in REQUIRED_KEYS + tuple(optional)]
    if missing or unknown:
        raise ValueError(f'{owner} arch dict: missing keys {missing}, unknown '
                         f'keys {unknown}. {hint}')
    return copy.deepcopy(dict(arch))


def _positive(kind: type) -> Callable:
    # Python's bools are ints, and never a size or a ratio
    return lambda v: isinstance(v, kind) and not isinstance(v, bool) and v > 0


# key -> (the check of one value; 'four': one value per stage, 'one': a
# single value, 'any': either (one stands for all four); what it must be)
_RULES = dict(
    depths=(_positive(int), 'four', '4 positive ints (one per stage)'),
    embed_dims=(_positive(int), 'four', '4 positive ints (one per stage)'),
    head_dim=(_positive(int), 'one', 'a positive int'),
    mlp_ratios=(_positive(Real), 'any', 'a positive number or 4 of them'),
    conv_stem=(lambda v: isinstance(v, bool), 'one', 'a bool'),
    layer_scale=(lambda v: isinstance(v, bool), 'any',
                 'a bool or 4 bools (one per stage)'))


def _check_family_keys(arch: Union[str, Mapping], zoo: Mapping[str, dict],
                       owner: str, optional: Sequence[str]) -> dict:
    """:func:`_from_zoo` with the defaults, the keys every UniFormer arch
    has checked and the single values of per-stage keys expanded to 4."""
    out = dict(mlp_ratios=4, conv_stem=False, layer_scale=False)
    out.update(_from_zoo(arch, zoo, owner, optional))
    for key, (ok, form, what) in _RULES.items():
        value = out[key]
        if form == 'any' and ok(value):
            value = [value] * 4
        four = isinstance(value, (list, tuple)) and len(value) == 4
        if not (ok(value) if form == 'one' else four and all(map(ok, value))):
            raise ValueError(
                f'{owner} arch[{key!r}] must be {what}, got {out[key]!r}')
        out[key] = value if form == 'one' else list(value)
    out['mlp_ratios'] = [float(r) for r in out['mlp_ratios']]
    if any(d % out['head_dim'] for d in out['embed_dims'][2:]):
        raise ValueError(
            f'{owner} arch: the attention stages 3 and 4 need embed_dims '
            f'divisible by head_dim={out["head_dim"]}, got '
            f'{out["embed_dims"]}')
    return out


def resolve_arch(arch: Union[str, dict], zoo: Mapping[str, dict],
                 owner: str) -> dict:
    """Return a validated copy of an architecture setting.

    Args:
        arch (str | dict): A preset name of ``zoo`` (case-insensitive), or a
            dict with keys ``depths`` (4 ints), ``embed_dims`` (4 ints),
            ``head_dim`` (int) and optionally ``mlp_ratios`` (a number or 4
            numbers), ``conv_stem`` (bool) and ``layer_scale`` (bool, or 4
            bools to scale the residuals of some stages only).
        zoo (dict): The presets.
        owner (str): Class name used in error messages.

    Returns:
        dict: all keys present, ``mlp_ratios`` expanded to 4 floats and
        ``layer_scale`` to 4 bools.
    """
    return _check_family_keys(arch, zoo, owner, OPTIONAL_KEYS)


# ---------------------------------------------------------------- hourglass
# The lightweight hourglass models of the TPAMI paper (UniFormer-XXS / XS).
# Besides the family's keys, ``prune_ratios`` and ``trade_offs`` hold one list
# per stage with one float per block (empty for the convolution stages 1-2):
# the share of tokens a block keeps, and the weight of its own class-token
# attention in the running token scores.
LIGHT_KEYS = ('prune_ratios', 'trade_offs')


def _hourglass_lists(depths: List[int], first: float, rest: float) -> list:
    """``[[], [], [first, rest, ...], [rest, ...]]`` (the paper's rule)."""
    return [[], [], [first] + [rest] * (depths[2] - 1), [rest] * depths[3]]


def _hourglass_base(depths: List[int], embed_dims: List[int],
                    head_dim: int) -> dict:
    """An official hourglass model: MLP ratio 3, the two-convolution stem,
    the paper's prune ratios and trade-offs."""
    return dict(
        depths=depths,
        embed_dims=embed_dims,
        head_dim=head_dim,
        mlp_ratios=3,
        conv_stem=True,
        prune_ratios=_hourglass_lists(depths, 1., .5),
        trade_offs=_hourglass_lists(depths, 1., .5))


_XXS = _hourglass_base([2, 5, 8, 2], [56, 112, 224, 448], head_dim=28)
_XS = _hourglass_base([3, 5, 9, 3], [64, 128, 256, 512], head_dim=32)
# test size (see _TEST): three stage-3 and two stage-4 blocks, so tokens
# are pruned in both stages
_TEST_LIGHT = _hourglass_base([1, 1, 3, 2], [16, 32, 64, 128], head_dim=16)

# uniformer_xxs / uniformer_xs of the official code (ImageNet at 128-224 px,
# COCO, ADE20K). conv_stem=True means the two-convolution stem of stage 1
# only; stages 2-4 keep the strided patch embedding.
ARCH_ZOO_LIGHT_2D: Dict[str, dict] = {
    'xxs': _preset(_XXS),
    'xs': _preset(_XS),
    'test': _preset(_TEST_LIGHT),
}
# The official ImageNet names of the hourglass models -> their preset.
OFFICIAL_LIGHT_NAMES: Dict[str, str] = {
    'uniformer_xxs': 'xxs',
    'uniformer_xs': 'xs',
}
# Kinetics-400: the 4- and 8-frame XXS models at 128 px and the 4-frame one
# at 160 px were trained with layer scale in every block ('xxs-ls').
ARCH_ZOO_LIGHT_3D: Dict[str, dict] = {
    'xxs': _preset(_XXS),
    'xs': _preset(_XS),
    'xxs-ls': _preset(_XXS, layer_scale=True),
    'test': _preset(_TEST_LIGHT),
}


def unpruned_arch(preset: str,
                  zoo: Optional[Mapping[str, dict]] = None) -> dict:
    """A hourglass preset with every prune ratio set to 1.

    Every block then sees all tokens (plus the class token), which is the
    reference the hourglass design is measured against; the weights are the
    same, so official checkpoints still load. Example::

        UniFormerLight(arch=unpruned_arch('xs'))
        UniFormerLight3D(arch=unpruned_arch('xxs', ARCH_ZOO_LIGHT_3D))

    Args:
        preset (str): A name of ``zoo``.
        zoo (dict, optional): Defaults to :data:`ARCH_ZOO_LIGHT_2D`.
    """
    zoo = ARCH_ZOO_LIGHT_2D if zoo is None else zoo
    arch = resolve_light_arch(preset, zoo, 'unpruned_arch')
    arch['prune_ratios'] = [[1.] * len(r) for r in arch['prune_ratios']]
    return arch


def _per_block(arch: dict, key: str, owner: str, low_open: bool) -> list:
    """Check ``arch[key]``: 4 lists, one number in [0, 1] (``low_open``:
    (0, 1]) per block of the attention stages 3-4, none for stages 1-2."""
    value, depths = arch[key], arch['depths']
    if not (isinstance(value, (list, tuple)) and len(value) == 4 and all(
            isinstance(v, (list, tuple)) and len(v) == (d if i >= 2 else 0)
            for i, (v, d) in enumerate(zip(value, depths)))):
        raise ValueError(
            f'{owner} arch {key} must be 4 lists, one float per block: empty '
            f'for the convolution stages 1-2, {depths[2]} and {depths[3]} '
            f'entries for stages 3-4 (depths {depths}); got {value!r}')
    for stage, j in ((s, j) for s in (2, 3) for j in range(depths[s])):
        r = value[stage][j]
        number = isinstance(r, Real) and not isinstance(r, bool)
        if not (number and (0 < r if low_open else 0 <= r) and r <= 1):
            raise ValueError(
                f'{owner} arch {key}[{stage}][{j}] (stage {stage + 1}, block '
                f'{j}) must be a number in {"(" if low_open else "["}0.0, 1]'
                f', got {r!r}')
    return [[float(r) for r in v] for v in value]


def resolve_light_arch(arch: Union[str, dict], zoo: Mapping[str, dict],
                       owner: str) -> dict:
    """Validated copy of a hourglass (UniFormer-XXS/XS family) arch.

    Args:
        arch (str | dict): A preset name of ``zoo`` or a dict with the keys
            of :func:`resolve_arch` plus optionally ``prune_ratios`` and
            ``trade_offs``: 4 lists with one float per block, empty for
            stages 1-2. A prune ratio in (0, 1] is the share of the stage's
            tokens a block attends with (the rest are merged into one
            representative token); the first stage-3 block must keep all
            tokens, since its class-token attention gives the first scores.
            A trade-off in [0, 1] weights a block's new scores against the
            running ones. Both default to the paper's rule: 1 for the first
            stage-3 block, 0.5 for every later one.
        zoo (dict): The presets.
        owner (str): Class name used in error messages.

    Returns:
        dict: as :func:`resolve_arch`, plus ``prune_ratios`` and
        ``trade_offs`` as lists of float lists.
    """
    out = _check_family_keys(arch, zoo, owner, OPTIONAL_KEYS + LIGHT_KEYS)
    for key in LIGHT_KEYS:
        if out.get(key) is None:
            out[key] = _hourglass_lists(out['depths'], 1., .5)
    out['prune_ratios'] = _per_block(out, 'prune_ratios', owner, True)
    out['trade_offs'] = _per_block(out, 'trade_offs', owner, False)
    if out['prune_ratios'][2][0] != 1:
        raise ValueError(
            f'{owner} arch prune_ratios[2][0] must be 1: the first stage-3 '
            'block sees every token, and its class-token attention gives the '
            'scores later blocks rank tokens by; got '
            f'{out["prune_ratios"][2][0]}')
    return out
