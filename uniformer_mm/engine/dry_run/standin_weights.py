"""Stand-in weights for a dry run: every checkpoint the config loads that is
not on disk gets a random file in the official published layout (or, for
``load_from``, of the model itself), under a name that says so."""
import copy
import os
import os.path as osp
import uuid
from typing import Dict, List, Optional

import torch
from mmengine.config import Config

from .base import Changes, DryRunError, walk

# stand-in checkpoints are named so that nobody mistakes them for real ones
STANDIN_WEIGHTS_PREFIX = 'RANDOM-STANDIN_'


def _official_name(backbone: dict, checkpoint: str) -> Optional[str]:
    """The official model whose published file ``checkpoint`` stands for,
    as a key of :func:`official_state_dict_shapes`."""
    from ...checkpoints import official_state_dict_shapes
    from ...models.arch import (ARCH_ZOO_2D, ARCH_ZOO_3D, ARCH_ZOO_LIGHT_2D,
                                ARCH_ZOO_LIGHT_3D, preset_aliases)
    kind = backbone.get('type', '')
    arch = backbone.get('arch', 'small')
    if not isinstance(arch, str):
        return None
    light = kind.startswith('UniFormerLight')
    zoo = (ARCH_ZOO_LIGHT_3D if kind.endswith('3D') else ARCH_ZOO_LIGHT_2D) \
        if light else (ARCH_ZOO_3D if kind.endswith('3D') else ARCH_ZOO_2D)
    canonical = next((name for name, aliases in preset_aliases(zoo).items()
                      if arch == name or arch in aliases), None)
    if canonical is None:
        return None
    canonical = canonical.replace('-ls', '') if light else canonical
    stem = osp.basename(checkpoint).lower()
    video = kind.endswith('3D') and any(
        k in stem for k in ('k400', 'k600', 'k700', 'sth'))
    base = canonical.replace('-', '_')
    name = (f'video_{base}'
            if video else f'cls_light_{base}' if light else f'cls_{base}')
    return name if name in official_state_dict_shapes() else None


def _random_state_dict(shapes: Dict[str, List[int]],
                       seed: int) -> Dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        leaf = key.rsplit('.', 1)[-1]
        if leaf == 'num_batches_tracked':
            state[key] = torch.zeros(shape, dtype=torch.long)
        elif leaf in ('running_mean', 'bias') or (leaf == 'weight'
                                                  and len(shape) == 1):
            fill = 0. if leaf != 'weight' else 1.
            state[key] = torch.full(shape, fill)
        elif leaf == 'running_var':
            state[key] = torch.ones(shape)
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.02
    return state


def write_standin_weights(backbone: dict, checkpoint: str, path: str) -> str:
    """A random file in the official published layout of ``checkpoint``:
    ImageNet files hold the classifier under ``model``, the SlowFast video
    files the recognizer under ``model_state``."""
    from ...checkpoints import official_state_dict_shapes
    name = _official_name(backbone, checkpoint)
    if name is None:
        raise DryRunError(
            'weights', f'no official layout known for {checkpoint!r} '
            f'(backbone {backbone.get("type")} arch {backbone.get("arch")!r})'
            ': put the real file there, or pass --cfg-options '
            'model.backbone.init_cfg=None')
    shapes = official_state_dict_shapes(name)
    stem = osp.basename(checkpoint).lower()
    if name.startswith('video_') and 'k600' in stem:
        for key in ('head.weight', 'head.bias'):
            shapes[key] = [600] + shapes[key][1:]
    state = _random_state_dict(shapes, seed=len(shapes))
    payload = {
        'model_state': state
    } if name.startswith('video_') else {
        'model': state
    }
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = f'{path}.{uuid.uuid4().hex}.tmp'
    torch.save(payload, tmp)
    os.replace(tmp, path)  # whole or absent, when configs share the file
    return name


def standin_weights(cfg: Config, root: str, change: Changes) -> None:
    """Stand-in files for every Pretrained init_cfg and load_from that is
    not on disk; real files are used as they are."""
    backbone = (cfg.get('model') or {}).get('backbone') or {}
    for where, node in walk(cfg.get('model'), 'model'):
        init_cfgs = node.get('init_cfg')
        for init in (init_cfgs
                     if isinstance(init_cfgs, list) else [init_cfgs]):
            if not (isinstance(init, dict) and init.get('type') == 'Pretrained'
                    and isinstance(init.get('checkpoint'), str)):
                continue
            real = init['checkpoint']
            if osp.isfile(osp.expanduser(real)):
                change(f'{where}.init_cfg: the real {real} is used')
                continue
            path = osp.join(root, STANDIN_WEIGHTS_PREFIX + osp.basename(real))
            owner = node if node.get('type', '').startswith('UniFormer') \
                else backbone
            if not osp.isfile(path):
                write_standin_weights(owner, real, path)
            init['checkpoint'] = path
            change(f'{where}.init_cfg.checkpoint {real} -> {path} (random '
                   'weights in the official layout)')
    load_from = cfg.get('load_from')
    if load_from and '://' not in load_from:
        if osp.isfile(osp.expanduser(load_from)):
            change(f'load_from: the real {load_from} is used')
            return
        path = osp.join(root, STANDIN_WEIGHTS_PREFIX + osp.basename(load_from))
        base = _base_config(cfg) if cfg.get('runner_type') == \
            'FineTuneRunner' else None
        _write_standin_model(cfg if base is None else base, path)
        cfg.load_from = path
        if base is None:
            change(f'load_from {load_from} -> {path} (random weights of this '
                   'model, in the layout tools/train.py writes)')
        else:
            change(f'load_from {load_from} -> {path} (random weights of the '
                   f'_base_ model {osp.basename(base.filename)}, its class '
                   'count: the load_from lines of the train stage show the '
                   'class-specific tensors fine-tuning re-initialises)')


def _base_config(cfg: Config) -> Optional[Config]:
    """The config's first ``_base_`` (a fine-tuning template's zoo config,
    whose whole-model checkpoint ``load_from`` names), or None."""
    filename = getattr(cfg, 'filename', None)
    if not filename or not osp.isfile(filename):
        return None
    bases = Config._get_base_files(filename)
    if not bases:
        return None
    path, _ = Config._get_cfg_path(bases[0], filename)
    return Config.fromfile(path)


def _write_standin_model(cfg: Config, path: str) -> None:
    """A whole-model checkpoint (``state_dict`` + ``meta``, as MMEngine and
    tools/convert_official.py write) of the config's model, randomly
    initialised."""
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.default_scope)
    model = MODELS.build(copy.deepcopy(cfg.model))
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = f'{path}.{uuid.uuid4().hex}.tmp'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp)
    os.replace(tmp, path)
