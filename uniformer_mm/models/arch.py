"""Architecture presets of the UniFormer family and validation of ``arch``."""
import copy
from numbers import Real
from typing import Dict, List, Mapping, Union

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
#   uniformer_small token-labeling (head_dim 32)                   -> small-hd32
#   uniformer_small_plus_dim64 (ImageNet or token-labeling)       -> small-plus
#   uniformer_small_plus (ImageNet or token-labeling, head_dim 32) -> small-plus-hd32
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
    return ', '.join(f"'{name}' (aliases: {', '.join(aliases)})"
                     for name, aliases in preset_aliases(zoo).items())


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
    if isinstance(arch, str):
        key = arch.lower().replace('_', '-')
        if key not in zoo:
            raise ValueError(
                f'Unknown {owner} arch {arch!r}. Valid presets: '
                f'{_preset_names(zoo)}; or a dict with keys '
                f'{list(REQUIRED_KEYS)} and optionally {list(OPTIONAL_KEYS)}.')
        arch = zoo[key]
    if not isinstance(arch, Mapping):
        raise TypeError(f'{owner} arch must be a preset name or a dict, got '
                        f'{type(arch).__name__}. Valid presets: '
                        f'{_preset_names(zoo)}.')
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
