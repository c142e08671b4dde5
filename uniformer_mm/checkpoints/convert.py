"""Convert any official UniFormer checkpoint into one our configs load.

Each official layout is detected from the file itself, its keys renamed to
our OpenMMLab 2.0 model's names, and the result checked against the model
of the target config: every tensor of the model must be in the file with
its shape, and nothing else (zero missing, zero unexpected keys), or the
conversion fails naming the keys.

=====================  =========================  ===========================
official layout        recognised by              renamed
=====================  =========================  ===========================
ImageNet (DeiT/timm;   ``{'model': ...}`` or a    classifier keys dropped
token labeling, layer  bare backbone state dict   (``head``, ``aux_head``,
scale, hourglass)                                 final ``norm``); output for
                                                  ``backbone.init_cfg``
MMDetection 2.x        ``rpn_head.*``,            none (2.11 -> 3.x kept the
Mask / Cascade R-CNN   ``roi_head.*``             names of these models)
MMSegmentation 0.x     ``decode_head.*``          none
FPN / UperNet
MMPose 0.x top-down    ``keypoint_head.*``        ``keypoint_head.`` ->
                                                  ``head.`` (HeatmapHead)
SlowFast video         ``{'model_state': ...}``   ``head.`` ->
                                                  ``cls_head.fc_cls.``, the
                                                  rest -> ``backbone.``;
                                                  optional label remap
=====================  =========================  ===========================

Output norms of backbone stages the target model does not output (the
official pose backbone keeps ``norm1``-``norm3``; ours, outputting stage 4
only, has ``norm4`` alone) are dropped and reported.
"""
import re
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from ..models.arch import ARCH_ZOO_2D, TEST_PRESETS
from .backbone import (OUTPUT_NORM, adapt_state_dict, check_head_dim,
                       describe_arch)
from .layout import fit_problems, listing, locate_state_dict

LAYOUTS = {
    'imagenet': 'ImageNet classification (DeiT/timm layout)',
    'mmdet2': 'MMDetection 2.x two-stage detector',
    'mmseg0': 'MMSegmentation 0.x encoder-decoder',
    'mmpose0': 'MMPose 0.x top-down heatmap model',
    'slowfast': 'SlowFast video classifier',
    'openmmlab2': 'OpenMMLab 2.0 model (already our layout)',
}
# (key suffix, what it is) of layers whose first dim is the class count
_CLASS_LAYERS = (
    ('roi_head.bbox_head.fc_cls.weight', 'box classifier (classes + 1)'),
    ('roi_head.mask_head.conv_logits.weight', 'mask predictor'),
    ('decode_head.conv_seg.weight', 'segmentation classifier'),
    ('auxiliary_head.conv_seg.weight', 'auxiliary classifier'),
    ('head.final_layer.weight', 'heatmap layer (keypoints)'),
    ('cls_head.fc_cls.weight', 'video classifier'),
)


class ConversionError(ValueError):
    """The file cannot be converted for the target model; the message says
    why and what to do."""


def _top_prefixes(state_dict: Dict[str, Any]) -> List[str]:
    return sorted({k.split('.')[0] for k in state_dict})


def detect_layout(checkpoint: Any) -> Tuple[str, Dict[str, torch.Tensor]]:
    """Which official layout ``checkpoint`` (a loaded file) has.

    Returns:
        tuple: the layout (a key of :data:`LAYOUTS`) and the state dict
        inside (``module.`` prefixes of DDP runs stripped).

    Raises:
        ConversionError: not a checkpoint of a known UniFormer layout.
    """
    try:
        container, state_dict = locate_state_dict(checkpoint)
    except ValueError as error:
        raise ConversionError(f'not a checkpoint: {error}') from None
    if not state_dict:
        raise ConversionError('not a checkpoint: no weights in it')
    layout = dict(model_state='slowfast', model='imagenet').get(container)
    prefixes = set(_top_prefixes(state_dict))
    if layout is None:
        if 'keypoint_head' in prefixes:
            layout = 'mmpose0'
        elif {'rpn_head', 'roi_head'} & prefixes:
            layout = 'mmdet2'
        elif 'decode_head' in prefixes:
            layout = 'mmseg0'
        elif 'backbone' in prefixes and ({'cls_head', 'head'} & prefixes):
            layout = 'openmmlab2'
        elif 'patch_embed1' in prefixes:
            layout = 'imagenet'  # a bare backbone / classifier state dict
    backbone_keys = ('patch_embed1' in prefixes or any(
        k.startswith('backbone.patch_embed1.') for k in state_dict))
    if layout is None or not backbone_keys:
        raise ConversionError(
            'unknown checkpoint layout: top-level key prefixes '
            f'{listing(sorted(prefixes))} match none of the official '
            'UniFormer layouts (ImageNet: patch_embed1.*, head.*; MMDetection '
            '2.x: backbone.*, rpn_head.*, roi_head.*; MMSegmentation 0.x: '
            'backbone.*, decode_head.*; MMPose 0.x: backbone.*, '
            "keypoint_head.*; SlowFast video: {'model_state': ...}). Is it "
            'a UniFormer checkpoint?')
    return layout, OrderedDict(state_dict)


def match_preset(backbone_sd: Dict[str, torch.Tensor],
                 head_dim: Optional[int] = None) -> Optional[str]:
    """The canonical (longest) name of the 2D preset whose shapes
    ``backbone_sd`` has
    (head_dim 64 unless ``head_dim`` says otherwise), or None."""
    found = describe_arch(backbone_sd)
    names = []
    for name, arch in ARCH_ZOO_2D.items():
        if name in TEST_PRESETS:
            continue
        scale = arch['layer_scale']
        scale = any(scale) if isinstance(scale, list) else scale
        if (arch['depths'] == found['depths']
                and arch['embed_dims'] == found['embed_dims']
                and arch['conv_stem'] == found['conv_stem']
                and scale == found['layer_scale']
                and arch['head_dim'] == (head_dim or 64)):
            names.append(name)
    return max(names, key=len) if names else None


def _class_count_problems(converted: Dict[str, torch.Tensor],
                          target: Dict[str, torch.Tensor]) -> List[str]:
    layers = dict(_CLASS_LAYERS)
    problems = []
    for name, value in converted.items():
        # roi_head.bbox_head.2.fc_cls.weight (cascade stage 2) -> its kind
        what = layers.get(re.sub(r'\.\d+(?=\.)', '', name))
        if what and name in target and (value.shape[0]
                                        != target[name].shape[0]):
            problems.append(
                f'{name} ({what}): the checkpoint has {value.shape[0]} '
                f'outputs, the config {target[name].shape[0]}')
    return problems


def verify_state_dict(converted: Dict[str, torch.Tensor],
                      model: nn.Module,
                      config: str = 'the config') -> Dict[str, int]:
    """Check ``converted`` against ``model.state_dict()``: the same keys and
    shapes, nothing missing, nothing unexpected.

    Returns:
        dict: ``tensors`` (matched), ``missing`` (0), ``unexpected`` (0).

    Raises:
        ConversionError: a class-count mismatch (named as such), missing,
        unexpected or mis-shaped keys.
    """
    target = model.state_dict()
    classes = _class_count_problems(converted, target)
    if classes:
        raise ConversionError(
            f'head / class-count mismatch between the checkpoint and '
            f'{config}:\n  ' + '\n  '.join(classes) + '\n  Use a config '
            'whose num_classes (num_keypoints) is the checkpoint\'s, e.g. '
            '--cfg-options model.roi_head.bbox_head.num_classes=N (or '
            'decode_head / head / cls_head), or convert only the backbone.')
    missing = [k for k in target if k not in converted]
    unexpected = [k for k in converted if k not in target]
    mismatched = [
        f'{k}: checkpoint {tuple(v.shape)} vs model '
        f'{tuple(target[k].shape)}' for k, v in converted.items()
        if k in target and v.shape != target[k].shape
    ]
    if missing or unexpected or mismatched:
        problems = fit_problems(missing, unexpected, mismatched)
        raise ConversionError(
            f'the converted checkpoint does not fit {config}:\n  ' +
            '\n  '.join(problems) + '\n  Likely cause: a config of another '
            'architecture (arch preset, head type) than the file; pass the '
            'matching --config.')
    return dict(tensors=len(converted), missing=0, unexpected=0)


def _is_stage_output_norm(key: str) -> bool:
    """``backbone.norm1.`` ... ``backbone.norm4.`` (not the final norm)."""
    match = key.startswith('backbone.') and OUTPUT_NORM.match(
        key[len('backbone.'):])
    return bool(match and match.group(1))


def _drop_unused_output_norms(
    state_dict: Dict[str, torch.Tensor],
    target: Dict[str,
                 torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    dropped = [
        k for k in state_dict if k not in target and _is_stage_output_norm(k)
    ]
    return OrderedDict(
        (k, v) for k, v in state_dict.items() if k not in dropped), dropped


def rename_keys(
        layout: str,
        state_dict: Dict[str, torch.Tensor],
        checkpoint: Any = None,
        label_remap: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
    """Our model's names for a whole-model layout (not ImageNet)."""
    if layout in ('mmdet2', 'mmseg0', 'openmmlab2'):
        return OrderedDict(state_dict)
    if layout == 'mmpose0':
        return OrderedDict((
            'head.' +
            k[len('keypoint_head.'):] if k.startswith('keypoint_head.') else k,
            v) for k, v in state_dict.items())
    if layout == 'slowfast':
        from .video import convert_slowfast_to_recognizer
        try:
            return convert_slowfast_to_recognizer({'model_state': state_dict},
                                                  label_remap=label_remap)
        except ValueError as error:
            raise ConversionError(str(error)) from None
    raise ConversionError(f'no key renaming for layout {layout!r}')


def convert_whole_model(
    layout: str,
    state_dict: Dict[str, torch.Tensor],
    model: nn.Module,
    config: str = 'the config',
    label_remap: Optional[torch.Tensor] = None
) -> Tuple[Dict[str, torch.Tensor], Dict[str, Any]]:
    """Rename an MMDetection / MMSegmentation / MMPose / SlowFast state dict
    to ``model``'s keys and verify it (zero missing / unexpected).

    Returns:
        tuple: the converted state dict and a report (``tensors``,
        ``missing``, ``unexpected``, ``dropped``: the keys left out).
    """
    converted = rename_keys(layout, state_dict, label_remap=label_remap)
    converted, dropped = _drop_unused_output_norms(converted,
                                                   model.state_dict())
    stats = verify_state_dict(converted, model, config)
    stats['dropped'] = dropped
    return converted, stats


def convert_imagenet(
        state_dict: Dict[str, torch.Tensor],
        backbone: nn.Module,
        checkpoint: Any = None
) -> Tuple[Dict[str, torch.Tensor], Dict[str, Any]]:
    """An ImageNet classifier's weights as a backbone initialisation.

    The classification head (``head``, ``aux_head`` of token labeling, the
    hourglass ``head_cls``/``norm_cls``) and the final norm are dropped; the
    per-stage output norms ``norm1``-``norm4`` of a dense backbone are not
    in ImageNet files and keep their initial values when the backbone loads
    it (as in the official fine-tuning). Everything else must fit
    ``backbone`` exactly (:func:`adapt_state_dict`, which also inflates 2D
    kernels for a video backbone).

    Returns:
        tuple: the backbone state dict (no prefix) and a report.
    """
    try:
        check_head_dim(checkpoint, getattr(backbone, 'head_dim', None),
                       'the file')
        adapted, stats = adapt_state_dict(state_dict, backbone)
    except ValueError as error:
        raise ConversionError(str(error)) from None
    target = backbone.state_dict()
    stats['not_in_file'] = [
        k for k in target
        if k not in adapted and not k.endswith('num_batches_tracked')
    ]
    stats['dropped'] = [k for k in state_dict if k not in adapted]
    return adapted, stats


def checkpoint_meta(checkpoint: Any) -> Dict[str, Any]:
    """Class names (``dataset_meta``) an official file records, if any."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    out = {}
    if isinstance(meta, dict):
        classes = meta.get('CLASSES') or meta.get('classes')
        if isinstance(classes, (list, tuple)) and all(
                isinstance(c, str) for c in classes):
            out['classes'] = list(classes)
        palette = meta.get('PALETTE')
        if isinstance(palette, (list, tuple)):
            try:
                out['palette'] = [[int(c) for c in color] for color in palette]
            except (TypeError, ValueError):
                pass
    return out


def config_text(checkpoint: Any) -> str:
    """The training config an official file carries (mmdet/mmseg/mmpose
    ``meta['config']``, SlowFast ``cfg``), or ''."""
    if not isinstance(checkpoint, dict):
        return ''
    meta = checkpoint.get('meta')
    if isinstance(meta, dict) and isinstance(meta.get('config'), str):
        return meta['config']
    return checkpoint['cfg'] if isinstance(checkpoint.get('cfg'), str) else ''


def official_attention(checkpoint: Any) -> Optional[Tuple[str, int]]:
    """(attn_mode, window_size) from the official training config (its
    ``windows=`` / ``hybrid=`` / ``window_size=`` backbone arguments), if
    recorded; the weights themselves do not show it.

    The official training configs set ``windows=`` / ``hybrid=`` and leave
    ``window_size`` out (the official hybrid UperNet / FPN / Mask R-CNN
    runs), so those flags alone decide the mode; the window is then the
    official backbone's default, 14."""
    text = config_text(checkpoint)
    if not re.search(r'\b(windows|hybrid|window_size)\s*=', text):
        return None

    def flag(name):
        found = re.search(rf'{name}\s*=\s*(True|False)', text)
        return bool(found) and found.group(1) == 'True'

    size = re.search(r'window_size\s*=\s*(\d+)', text)
    mode = ('hybrid'
            if flag('hybrid') else 'window' if flag('windows') else 'global')
    return mode, int(size.group(1)) if size else 14


def backbone_part(layout: str,
                  state_dict: Dict[str, torch.Tensor]) -> Dict[str, Any]:
    """The backbone tensors of a loaded state dict, without prefix."""
    if layout in ('imagenet', 'slowfast'):
        return state_dict
    return OrderedDict((k[len('backbone.'):], v)
                       for k, v in state_dict.items()
                       if k.startswith('backbone.'))
