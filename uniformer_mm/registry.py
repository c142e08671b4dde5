"""Registration of our backbones into each OpenMMLab codebase.

``UniFormer`` and ``UniFormerLight`` go into the MODELS registries of
MMDetection, MMSegmentation and MMPose, ``UniFormer3D`` and
``UniFormerLight3D`` into MMAction2's (which has its own, different
``UniFormer``, left untouched). Codebases that are not
installed are skipped. Everything is also in our own ``MODELS`` registry
(scope ``uniformer_mm``), a child of MMEngine's root registry.
"""
import importlib

from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import WEIGHT_INITIALIZERS as MMENGINE_INITIALIZERS
from mmengine.registry import Registry

from .checkpoints.backbone import UniFormerPretrained
from .checkpoints.hooks import (NonFiniteLossHook, PreemptionHook,
                                SafeCheckpointHook, WeightsOnlyCheckpointHook)
from .compat import mmaction_drn, mmpose_simcc_vis
from .engine import ClassCountCheckHook, CPUDistributedDataParallel
from .models import UniFormer, UniFormer3D, UniFormerLight, UniFormerLight3D

MODELS = Registry(
    'model',
    parent=MMENGINE_MODELS,
    scope='uniformer_mm',
    locations=['uniformer_mm.models'])

# codebase registry module -> the types registered there
CODEBASE_TYPES = {
    'mmdet.registry': (UniFormer, UniFormerLight),
    'mmseg.registry': (UniFormer, UniFormerLight),
    'mmpose.registry': (UniFormer, UniFormerLight),
    'mmaction.registry': (UniFormer3D, UniFormerLight3D),
}
# codebase -> our modules whose import registers data transforms, dataset
# wrappers and heads there
CODEBASE_MODULES = {
    'mmaction':
    ('uniformer_mm.datasets.transforms', 'uniformer_mm.datasets.sampling',
     'uniformer_mm.datasets.rand_augment', 'uniformer_mm.datasets.repeat_aug',
     'uniformer_mm.models.light_video_head'),
}


def _register(registry, module) -> None:
    existing = registry.module_dict.get(module.__name__)
    if existing is None:
        registry.register_module(module=module)
    elif existing is not module:
        raise RuntimeError(
            f'{registry.scope} already has a different {module.__name__} '
            f'({existing.__module__}); uniformer_mm will not override it')


def register_all_modules() -> None:
    """Register our types everywhere (idempotent).

    Besides installing the compatibility shims of ``uniformer_mm.compat``
    it only registers: MMEngine's checkpoint loading is left as it is (our
    tools install a weights-only loader explicitly, see
    :func:`uniformer_mm.checkpoints.install_weights_only_loader`).
    """
    mmaction_drn.install()
    mmpose_simcc_vis.install()
    for module in (UniFormer, UniFormer3D, UniFormerLight, UniFormerLight3D):
        _register(MODELS, module)
    for hook in (WeightsOnlyCheckpointHook, SafeCheckpointHook, PreemptionHook,
                 NonFiniteLossHook, ClassCountCheckHook):
        _register(MMENGINE_HOOKS, hook)
    _register(MMENGINE_MODEL_WRAPPERS, CPUDistributedDataParallel)
    _register(MMENGINE_INITIALIZERS, UniFormerPretrained)
    for registry_module, types in CODEBASE_TYPES.items():
        try:
            registry = importlib.import_module(registry_module).MODELS
        except ImportError:
            continue
        for module in types:
            _register(registry, module)
    for codebase, modules in CODEBASE_MODULES.items():
        try:
            importlib.import_module(f'{codebase}.registry')
        except ImportError:  # the codebase is not installed
            continue
        for name in modules:
            importlib.import_module(name)
