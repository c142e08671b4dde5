"""Building a config's model the way its codebase's Runner does, without
weights: what the FLOP counter and the checkpoint converter share."""
from typing import Any, Tuple

import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope

SCOPES = ('mmdet', 'mmseg', 'mmpose', 'mmaction')


def codebase_registry(scope: str):
    """(MODELS registry, register_all_modules) of an OpenMMLab codebase."""
    if scope == 'mmdet':
        from mmdet.registry import MODELS
        from mmdet.utils import register_all_modules
    elif scope == 'mmseg':
        from mmseg.registry import MODELS
        from mmseg.utils import register_all_modules
    elif scope == 'mmpose':
        from mmpose.registry import MODELS
        from mmpose.utils import register_all_modules
    elif scope == 'mmaction':
        from mmaction.registry import MODELS
        from mmaction.utils import register_all_modules
    else:
        raise ValueError(
            f'config default_scope {scope!r} is not one of {SCOPES}; only '
            'models of those codebases can be built here')
    return MODELS, register_all_modules


def drop_init_cfgs(cfg: Any) -> None:
    """Set every ``init_cfg`` in a (nested) config to None, in place, so
    that building reads no pretrained file."""
    if isinstance(cfg, dict):
        if 'init_cfg' in cfg:
            cfg['init_cfg'] = None
        for value in cfg.values():
            drop_init_cfgs(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            drop_init_cfgs(value)


def build_model_from_config(cfg: Config) -> Tuple[nn.Module, str]:
    """The config's model in eval mode, built under its ``default_scope``
    with every ``init_cfg`` removed (random weights, nothing read); and the
    scope."""
    scope = cfg.get('default_scope')
    models, register_all_modules = codebase_registry(scope)
    register_all_modules(init_default_scope=False)
    model_cfg = cfg.model.copy()
    drop_init_cfgs(model_cfg)
    with DefaultScope.overwrite_default_scope(scope):
        model = models.build(model_cfg)
    return model.eval(), scope
