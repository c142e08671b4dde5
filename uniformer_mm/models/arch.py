"""Architecture presets of the UniFormer family and validation of ``arch``."""
import copy
from numbers import Real
from typing import Dict, List, Mapping, Optional, Sequence, Union

REQUIRED_KEYS = ('depths', 'embed_dims', 'head_dim')
OPTIONAL_KEYS = ('mlp_ratios', 'conv_stem', 'layer_scale')

_SMALL = dict(depths=[3, 4, 8, 3], embed_dims=[64, 128, 320, 512])
_SMALL_PLUS = dict(
    depths=[3, 5, 9, 3], embed_dims=[64, 128, 320, 512], conv_stem=True)
_BASE = dict(depths=[5, 8, 20, 7], embed_dims=[64, 128, 320, 512])
_LARGE = dict(depths=[5, 10, 24, 7], embed_dims=[128, 192, 448, 640])


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
}


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
              optional: Sequence[str]) -> Mapping:
    """The preset ``arch`` names (case-insensitive, ``_`` as ``-``), or
    ``arch`` itself if it is a dict; errors list the presets and the keys
    (``optional``: the optional ones) a dict may have."""
    if isinstance(arch, str):
        key = arch.lower().replace('_', '-')
        if key not in zoo:
            raise ValueError(
                f'Unknown {owner} arch {arch!r}. Valid presets: '
                f'{_preset_names(zoo)}; or a dict with keys '
                f'{list(REQUIRED_KEYS)} and optionally {list(optional)}.')
        arch = zoo[key]
    if not isinstance(arch, Mapping):
        raise TypeError(f'{owner} arch must be a preset name or a dict, got '
                        f'{type(arch).__name__}. Valid presets: '
                        f'{_preset_names(zoo)}.')
    return arch


def _int_list(arch: dict, key: str, owner: str):
    value = arch[key]
    if (not isinstance(value, (list, tuple)) or len(value) != 4 or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0
            for v in value)):
        raise ValueError(f'{owner} arch[{key!r}] must be 4 positive ints '
                         f'(one per stage), got {value!r}')
    return list(value)


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
    arch = _from_zoo(arch, zoo, owner, OPTIONAL_KEYS)
    missing = [k for k in REQUIRED_KEYS if k not in arch]
    unknown = [k for k in arch if k not in REQUIRED_KEYS + OPTIONAL_KEYS]
    if missing or unknown:
        raise ValueError(
            f'{owner} arch dict: missing keys {missing}, unknown keys '
            f'{unknown}. Required: {list(REQUIRED_KEYS)}, optional: '
            f'{list(OPTIONAL_KEYS)}; or use a preset: {_preset_names(zoo)}.')
    out = dict(mlp_ratios=4, conv_stem=False, layer_scale=False)
    out.update(copy.deepcopy(dict(arch)))
    out['depths'] = _int_list(out, 'depths', owner)
    out['embed_dims'] = _int_list(out, 'embed_dims', owner)
    head_dim = out['head_dim']
    if not isinstance(head_dim, int) or isinstance(head_dim,
                                                   bool) or head_dim <= 0:
        raise ValueError(
            f'{owner} arch head_dim must be a positive int, got {head_dim!r}')
    bad = [d for d in out['embed_dims'][2:] if d % head_dim]
    if bad:
        raise ValueError(
            f'{owner} arch: the attention stages 3 and 4 need embed_dims '
            f'divisible by head_dim={head_dim}, got {out["embed_dims"]}')
    ratios = out['mlp_ratios']
    if isinstance(ratios, Real) and not isinstance(ratios, bool):
        ratios = [ratios] * 4
    if (not isinstance(ratios, (list, tuple)) or len(ratios) != 4 or not all(
            isinstance(r, Real) and not isinstance(r, bool) and r > 0
            for r in ratios)):
        raise ValueError(f'{owner} arch mlp_ratios must be a positive number '
                         f'or 4 of them, got {out["mlp_ratios"]!r}')
    out['mlp_ratios'] = [float(r) for r in ratios]
    if not isinstance(out['conv_stem'], bool):
        raise ValueError(
            f'{owner} arch conv_stem must be a bool, got {out["conv_stem"]!r}')
    scale = out['layer_scale']
    if isinstance(scale, bool):
        scale = [scale] * 4
    if (not isinstance(scale, (list, tuple)) or len(scale) != 4
            or not all(isinstance(s, bool) for s in scale)):
        raise ValueError(f'{owner} arch layer_scale must be a bool or 4 bools '
                         f'(one per stage), got {out["layer_scale"]!r}')
    out['layer_scale'] = list(scale)
    return out


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

# uniformer_xxs / uniformer_xs of the official code (ImageNet at 128-224 px,
# COCO, ADE20K). conv_stem=True means the two-convolution stem of stage 1
# only; stages 2-4 keep the strided patch embedding.
ARCH_ZOO_LIGHT_2D: Dict[str, dict] = {
    'xxs': _preset(_XXS),
    'xs': _preset(_XS),
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


def _per_block(arch: dict, key: str, owner: str, low: float,
               low_open: bool) -> List[List[float]]:
    value = arch[key]
    depths = arch['depths']
    shape_ok = (
        isinstance(value, (list, tuple)) and len(value) == 4
        and all(isinstance(v, (list, tuple)) for v in value) and all(
            len(v) == (d if i >= 2 else 0)
            for i, (v, d) in enumerate(zip(value, depths))))
    if not shape_ok:
        raise ValueError(
            f'{owner} arch {key} must be 4 lists, one float per block: empty '
            f'for the convolution stages 1-2, {depths[2]} and {depths[3]} '
            f'entries for stages 3-4 (depths {depths}); got {value!r}')
    bound = f'({low}, 1]' if low_open else f'[{low}, 1]'
    for stage in (2, 3):
        for j, r in enumerate(value[stage]):
            if (not isinstance(r, Real) or isinstance(r, bool) or r > 1
                    or r < low or (low_open and r == low)):
                raise ValueError(
                    f'{owner} arch {key}[{stage}][{j}] (stage {stage + 1}, '
                    f'block {j}) must be a number in {bound}, got {r!r}')
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
    arch = _from_zoo(arch, zoo, owner, OPTIONAL_KEYS + LIGHT_KEYS)
    known = REQUIRED_KEYS + OPTIONAL_KEYS + LIGHT_KEYS
    unknown = [k for k in arch if k not in known]
    if unknown:
        raise ValueError(
            f'{owner} arch dict: unknown keys {unknown}. Required: '
            f'{list(REQUIRED_KEYS)}, optional: '
            f'{list(OPTIONAL_KEYS + LIGHT_KEYS)}; or use a preset: '
            f'{_preset_names(zoo)}.')
    out = resolve_arch({
        k: v
        for k, v in arch.items() if k not in LIGHT_KEYS
    }, {}, owner)
    depths = out['depths']
    for key in LIGHT_KEYS:
        value = arch.get(key)
        out[key] = copy.deepcopy(value) if value is not None else (
            _hourglass_lists(depths, 1., .5))
    out['prune_ratios'] = _per_block(out, 'prune_ratios', owner, 0., True)
    out['trade_offs'] = _per_block(out, 'trade_offs', owner, 0., False)
    if out['prune_ratios'][2][0] != 1:
        raise ValueError(
            f'{owner} arch prune_ratios[2][0] must be 1: the first stage-3 '
            'block sees every token, and its class-token attention gives the '
            'scores later blocks rank tokens by; got '
            f'{out["prune_ratios"][2][0]}')
    return out
