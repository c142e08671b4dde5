"""Every official UniFormer checkpoint layout, turned into our backbones'.

Our backbones keep the official parameter names (``patch_embed1``,
``blocks3.5.attn.qkv`` ...), so the work here is finding the backbone weights
inside each published layout, dropping what belongs to classification heads,
inflating 2D weights for the video backbone, and refusing -- loudly -- any
load that would silently leave weights uninitialised:

==================  ==============================  =====================
layout              top level                       backbone keys
==================  ==============================  =====================
ImageNet (DeiT)     ``{'model': ..., 'args': ...}``  as they are (+ head)
SlowFast video      ``{'model_state': ...}``        as they are (+ head)
OpenMMLab 1.x/2.x   ``{'state_dict': ...}``         ``backbone.`` prefix
plain               ``{name: tensor}``              as they are
==================  ==============================  =====================
"""
import logging
import re
from collections import OrderedDict
from typing import Any, Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.logging import MMLogger, print_log

from ..models.arch import (ARCH_ZOO_2D, ARCH_ZOO_LIGHT_2D,
                           OFFICIAL_IMAGENET_NAMES, OFFICIAL_LIGHT_NAMES)
from .io import load_checkpoint_file
from .layout import fit_problems, locate_state_dict, strip_prefix

# Keys of classification models that no backbone uses.
# (``head_cls`` / ``norm_cls``: the class-token classifier of the hourglass
# XXS/XS models.)
_CLASSIFICATION_PREFIXES = ('head.', 'aux_head.', 'pre_logits.', 'fc_norm.',
                            'head_cls.', 'norm_cls.')
# a backbone's output norms: the final ``norm`` and the per-stage norm1-4
OUTPUT_NORM = re.compile(r'^norm([1-4]?)\.')
_LAYER_SCALE = re.compile(r'\.gamma_\d$')
_BLOCK = re.compile(r'^blocks([1-4])\.(\d+)\.')


def inflate_weight(weight_2d: torch.Tensor,
                   time_dim: int,
                   mode: str = 'average') -> torch.Tensor:
    """Inflate a 2D conv kernel (O, I, kh, kw) to 3D (O, I, T, kh, kw).

    Args:
        weight_2d (Tensor): The 2D kernel.
        time_dim (int): Temporal kernel size T.
        mode (str): ``'average'`` copies the kernel to every time step divided
            by T (the official UniFormer code: a static video gives the 2D
            response); ``'center'`` puts it at the middle step and zeros
            elsewhere (MMAction2's port: each frame gives the 2D response).
            Defaults to ``'average'``.
    """
    if mode == 'average':
        return weight_2d.unsqueeze(2).repeat(1, 1, time_dim, 1, 1) / time_dim
    if mode == 'center':
        weight_3d = weight_2d.new_zeros(weight_2d.shape[:2] + (time_dim, ) +
                                        weight_2d.shape[2:])
        weight_3d[:, :, time_dim // 2] = weight_2d
        return weight_3d
    raise ValueError(
        f"inflate mode must be 'average' or 'center', got {mode!r}")


# container of each layout -> its name in messages
_LAYOUT_NAMES = {
    'model_state': 'SlowFast video',
    'state_dict': 'OpenMMLab',
    'model': 'ImageNet',
    None: 'plain state dict'
}


def find_backbone_state_dict(
        checkpoint: Any,
        prefix: Optional[str] = None) -> Tuple[Dict[str, torch.Tensor], str]:
    """Locate the backbone weights in any supported checkpoint layout.

    Args:
        checkpoint: What :func:`load_checkpoint_file` returned.
        prefix (str, optional): Keep only keys under this prefix (stripped),
            as MMEngine's ``Pretrained`` init does. By default ``backbone.``
            is used when the file holds a whole OpenMMLab model.

    Returns:
        tuple: the state dict and the name of the layout found.
    """
    container, state_dict = locate_state_dict(checkpoint)
    layout_name = _LAYOUT_NAMES[container]
    if prefix is None and any(k.startswith('backbone.') for k in state_dict):
        prefix = 'backbone.'
    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        stripped = strip_prefix(state_dict, prefix)
        if not stripped:
            raise ValueError(f'no key of the {layout_name} checkpoint starts '
                             f'with prefix {prefix!r}')
        state_dict, layout_name = stripped, f'{layout_name}, {prefix}*'
    return state_dict, layout_name


def describe_arch(state_dict: Dict[str, torch.Tensor]) -> Dict[str, Any]:
    """What the shapes of a UniFormer state dict reveal about its arch.

    head_dim changes no shape and cannot be read from weights; see
    :func:`head_dim_from_metadata`.
    """
    depths = [0] * 4
    for key in state_dict:
        match = _BLOCK.match(key)
        if match:
            stage, index = int(match.group(1)) - 1, int(match.group(2))
            depths[stage] = max(depths[stage], index + 1)
    dims = []
    for i in range(1, 5):
        bias = state_dict.get(f'blocks{i}.0.pos_embed.bias')
        dims.append(int(bias.shape[0]) if bias is not None else None)
    return dict(
        depths=depths,
        embed_dims=dims,
        conv_stem='patch_embed1.proj.0.weight' in state_dict,
        layer_scale=any('.gamma_1' in k for k in state_dict))


_CONFIG_HEAD_DIM = re.compile(r'head_dim\s*[=:]\s*(\d+)', re.IGNORECASE)


def _official_name_head_dim(name: str, weights: dict) -> Optional[int]:
    """head_dim of an official ImageNet model name, None for other names."""
    if name in OFFICIAL_LIGHT_NAMES:
        return ARCH_ZOO_LIGHT_2D[OFFICIAL_LIGHT_NAMES[name]]['head_dim']
    presets = OFFICIAL_IMAGENET_NAMES.get(name)
    if presets is None:
        return None
    # token labeling trains an auxiliary head on the patch tokens
    preset = presets[1 if 'aux_head.weight' in weights else 0]
    return None if preset is None else ARCH_ZOO_2D[preset]['head_dim']


def _model_name(checkpoint: Any) -> Optional[str]:
    name = getattr(checkpoint.get('args'), 'model',
                   None) or checkpoint.get('arch')
    return name if isinstance(name, str) else None


def head_dim_from_metadata(checkpoint: Any) -> Optional[Tuple[int, str]]:
    """head_dim recorded by the training run that wrote the file, if any.

    mmdet 2.x / mmseg 0.x / mmpose 0.x files keep their config text under
    ``meta['config']``, SlowFast files under ``cfg``; DeiT/timm ImageNet files
    name the model in ``args.model``: only the names the official code
    released (:data:`~uniformer_mm.models.arch.OFFICIAL_IMAGENET_NAMES`,
    ``OFFICIAL_LIGHT_NAMES``) say a head_dim. A name of the user's own
    (trained with the official code under another name) says nothing: see
    :func:`check_head_dim`.

    Returns:
        tuple | None: (head_dim, where it was found).
    """
    if not isinstance(checkpoint, dict):
        return None
    texts = []
    meta = checkpoint.get('meta')
    if isinstance(meta, dict) and isinstance(meta.get('config'), str):
        texts.append(("meta['config']", meta['config']))
    if isinstance(checkpoint.get('cfg'), str):
        texts.append(("cfg", checkpoint['cfg']))
    for where, text in texts:
        found = set(_CONFIG_HEAD_DIM.findall(text))
        if len(found) == 1:
            return int(found.pop()), where
    name, weights = _model_name(checkpoint), checkpoint.get('model')
    if name is not None and isinstance(weights, dict):
        head_dim = _official_name_head_dim(name, weights)
        if head_dim is not None:
            return head_dim, f'args.model={name!r}'
    return None


def check_head_dim(checkpoint: Any,
                   model_head_dim: Optional[int],
                   source: str,
                   logger: Optional[MMLogger] = None) -> None:
    """Refuse a file trained with another head_dim than the model's.

    head_dim changes no shape, so a wrong one loads and silently gives wrong
    features; the file's metadata (:func:`head_dim_from_metadata`) is the
    only evidence. Without any, the load goes on on shapes alone, with a log
    line when the file names a model the check does not know.

    Raises:
        ValueError: the recorded head_dim differs from ``model_head_dim``.
    """
    recorded = head_dim_from_metadata(checkpoint)
    if recorded is None:
        name = _model_name(checkpoint) if isinstance(checkpoint,
                                                     dict) else None
        if name is not None:
            print_log(
                f'{source}: head_dim could not be checked: '
                f'args.model={name!r} is not a model name the official code '
                'released, so the file says nothing about its head_dim; '
                'loading on shapes alone (head_dim changes no shape: make '
                f'sure the model\'s head_dim={model_head_dim} is the one it '
                'was trained with).',
                logger=logger or 'current',
                level=logging.WARNING)
        return
    if model_head_dim is not None and recorded[0] != model_head_dim:
        raise ValueError(
            f'{source} was trained with head_dim={recorded[0]} (from its '
            f'{recorded[1]}) but the model has head_dim={model_head_dim}; '
            'the shapes agree, so the load would succeed and silently give '
            'wrong features. Use the matching preset (e.g. the "-hd32" '
            'presets for head_dim 32) or set arch["head_dim"].')


def adapt_state_dict(
    state_dict: Dict[str, torch.Tensor],
    model: nn.Module,
    inflate_mode: str = 'average'
) -> Tuple[Dict[str, torch.Tensor], Dict[str, int]]:
    """Match a checkpoint's backbone weights to ``model``.

    * 2D kernels meeting 3D ones are inflated (:func:`inflate_weight`);
    * classification-only keys (``head``, ``aux_head``, the final ``norm`` of
      a classifier when the model has none) and output norms of stages the
      model does not output are skipped;
    * anything else that does not fit raises ``ValueError`` naming the keys
      and the likely cause.

    Only missing per-stage output norms (``norm``, ``norm1``-``norm4``) and
    ``num_batches_tracked`` counters may stay at their initial values.

    Returns:
        tuple: the state dict to load and counts of loaded / inflated /
        skipped tensors.
    """
    target = model.state_dict()
    out = OrderedDict()
    inflated, skipped, unexpected, mismatched = 0, 0, [], []
    for key, value in state_dict.items():
        if key not in target:
            if key.startswith(_CLASSIFICATION_PREFIXES) or OUTPUT_NORM.match(
                    key):
                skipped += 1
            else:
                unexpected.append(key)
            continue
        want = target[key].shape
        if value.shape == want:
            out[key] = value
        elif (value.dim() == 4 and len(want) == 5
              and value.shape[:2] == want[:2] and value.shape[2:] == want[3:]):
            out[key] = inflate_weight(value, want[2], inflate_mode)
            inflated += 1
        else:
            mismatched.append(f'{key}: checkpoint {tuple(value.shape)} vs '
                              f'model {tuple(want)}')
    missing = [
        k for k in target if k not in out and not OUTPUT_NORM.match(k)
        and not k.endswith('num_batches_tracked')
    ]
    # An image file (no layer scale) inflated into a video model with layer
    # scale: the residual scales start from their init value, as the
    # official video code trains its layer-scale models from ImageNet.
    scales_kept = []
    if inflated and not any(_LAYER_SCALE.search(k) for k in state_dict):
        scales_kept = [k for k in missing if _LAYER_SCALE.search(k)]
        missing = [k for k in missing if not _LAYER_SCALE.search(k)]
    if missing or unexpected or mismatched:
        found = describe_arch(state_dict)
        expected = describe_arch(target)
        problems = fit_problems(missing, unexpected, mismatched)
        raise ValueError(
            'The checkpoint does not fit this backbone; loading it would '
            'leave weights uninitialised or wrong.\n  ' +
            '\n  '.join(problems) + f'\n  checkpoint looks like {found}; '
            f'the model is {expected}.\n  Likely cause: a different arch '
            '(depths, embed_dims, conv_stem, layer_scale) -- pick the '
            'preset that matches the file.')
    stats = dict(
        loaded=len(out) - inflated, inflated=inflated, skipped=skipped)
    if scales_kept:
        stats['layer_scales_at_init'] = len(scales_kept)
    return out, stats


class UniFormerPretrained:
    """The weight initializer that ``init_cfg=dict(type='Pretrained', ...)``
    of a UniFormer-family backbone runs (registered in MMEngine's
    ``WEIGHT_INITIALIZERS``): :func:`load_pretrained` with the backbone's
    own ``inflate_mode``.

    Args:
        checkpoint (str): The checkpoint file.
        prefix (str, optional): See :func:`find_backbone_state_dict`.
        map_location: Accepted as MMEngine's ``Pretrained`` does; the file is
            always read onto the CPU.
    """

    def __init__(self,
                 checkpoint: str,
                 prefix: Optional[str] = None,
                 map_location: Any = None):
        self.checkpoint = checkpoint
        self.prefix = prefix

    def __call__(self, module: nn.Module) -> None:
        load_pretrained(
            module,
            self.checkpoint,
            prefix=self.prefix,
            inflate_mode=getattr(module, 'inflate_mode', 'average'))


def load_pretrained(model: nn.Module,
                    filename: str,
                    prefix: Optional[str] = None,
                    inflate_mode: str = 'average',
                    logger: Optional[MMLogger] = None) -> Dict[str, int]:
    """Load any official or own UniFormer checkpoint into a backbone.

    Args:
        model (nn.Module): A UniFormer-family backbone (it has ``head_dim``).
        filename (str): The checkpoint file (read weights-only).
        prefix (str, optional): See :func:`find_backbone_state_dict`.
        inflate_mode (str): See :func:`inflate_weight`.
        logger (MMLogger, optional): Where the summary line goes.

    Returns:
        dict: counts of loaded / inflated / skipped tensors.
    """
    checkpoint = load_checkpoint_file(filename)
    state_dict, layout = find_backbone_state_dict(checkpoint, prefix)
    check_head_dim(checkpoint, getattr(model, 'head_dim', None),
                   repr(filename), logger)
    try:
        adapted, stats = adapt_state_dict(state_dict, model, inflate_mode)
    except ValueError as error:
        raise ValueError(f'{filename!r} ({layout} layout): {error}') from None
    model.load_state_dict(adapted, strict=False)
    print_log(
        f'Loaded {filename} ({layout} layout) into '
        f'{type(model).__name__}: {stats["loaded"]} tensors loaded, '
        f'{stats["inflated"]} inflated 2D->3D, {stats["skipped"]} '
        'classification-only tensors skipped.' +
        (f' {stats["layer_scales_at_init"]} layer scales (absent from the '
         'image file) keep their init value.'
         if 'layer_scales_at_init' in stats else ''),
        logger=logger or 'current')
    return stats
