"""The official UniFormer backbones (github Sense-X/UniFormer), run as
published from a local copy of that repository.

Maintainer module, not part of the package or the tests. Two tools use it:
``scripts/record_official_fixtures.py`` (the recorded outputs the tests
compare with) and ``tools/analysis/benchmark.py --official-repo`` (the
speed of our code against the official code's). Only the official files'
framework imports (timm layers, the mmdet / mmcv registries and loaders,
SlowFast's registry and logging) are replaced by the small stand-ins below;
the model code runs as published.
"""
import contextlib
import subprocess
import sys
import types
from pathlib import Path

import torch.nn as nn

DET_2D = 'object_detection/mmdet/models/backbones/uniformer.py'
DET_LIGHT = 'object_detection/mmdet/models/backbones/uniformer_light.py'
VIDEO = 'video_classification/slowfast/models/uniformer.py'
VIDEO_LIGHT = 'video_classification/slowfast/models/uniformer_light_fp32.py'
VIDEO_LIGHT_LS = ('video_classification/slowfast/models/'
                  'uniformer_light_ls_fp32.py')


# --------------------------------------------------------------- the stubs
class _Registry:
    """Stands in for mmdet's BACKBONES and SlowFast's MODEL_REGISTRY."""

    def register_module(self, *args, **kwargs):
        return lambda cls: cls

    register = register_module


class _DropPath(nn.Module):
    """timm's DropPath; callers build the official models with
    drop_path_rate 0, so the official code builds nn.Identity instead and
    this is never run."""

    def __init__(self, drop_prob=0.):
        super().__init__()
        if drop_prob:
            raise NotImplementedError('build with drop_path_rate=0')


def _to_2tuple(x):
    return tuple(x) if isinstance(x, (list, tuple)) else (x, x)


def _stub_modules() -> dict:
    """The framework modules the official backbone files import, by name."""
    logger = types.SimpleNamespace(info=lambda *a, **k: None)
    stubs = {}

    def module(name, **attrs):
        stubs[name] = types.ModuleType(name)
        stubs[name].__path__ = []  # importable as a package
        stubs[name].__dict__.update(attrs)
        return stubs[name]

    module('timm')
    module('timm.models')
    module(
        'timm.models.layers',
        DropPath=_DropPath,
        to_2tuple=_to_2tuple,
        trunc_normal_=nn.init.trunc_normal_)
    module('timm.models.vision_transformer', _cfg=lambda **kw: kw)
    module('mmcv_custom', load_checkpoint=None)
    module('mmdet')
    module('mmdet.utils', get_root_logger=lambda: logger)
    module('mmdet.models')
    module('mmdet.models.builder', BACKBONES=_Registry())
    module('slowfast')
    module('slowfast.utils')
    stubs['slowfast.utils'].logging = module(
        'slowfast.utils.logging', get_logger=lambda name: logger)
    # the relative imports: ``from ..builder import BACKBONES`` (detection)
    # and ``from .build import MODEL_REGISTRY`` (video)
    module('official')
    module('official.det')
    module('official.det.builder', BACKBONES=_Registry())
    module('official.det.backbones')
    module('official.video')
    module('official.video.build', MODEL_REGISTRY=_Registry())
    return stubs


@contextlib.contextmanager
def _stubbed_imports():
    """The stand-ins in ``sys.modules`` while an official file executes;
    afterwards the real packages (mmdet, timm) are back, so the process can
    still use them. The official module keeps what it imported."""
    stubs = _stub_modules()
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        yield
    finally:
        for name, module in saved.items():
            if name.startswith('official'):
                continue  # ours alone: later official files import them
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module


class Source:
    """Reads files of the official repository: a checkout or a bare git
    mirror (``git show``)."""

    def __init__(self, repo: Path, commit: str = 'HEAD'):
        self.repo = Path(repo)
        self.bare = not (self.repo / DET_2D).is_file()
        rev = commit if self.bare else 'HEAD'
        try:
            self.commit = subprocess.check_output(
                ['git', '-C', str(self.repo), 'rev-parse', rev],
                text=True,
                stderr=subprocess.DEVNULL).strip()
        except (subprocess.CalledProcessError, FileNotFoundError):
            if self.bare:
                raise FileNotFoundError(
                    f'{repo} is neither a checkout of the official '
                    f'repository (no {DET_2D}) nor a git mirror of it')
            self.commit = 'unknown (not a git checkout)'

    def read(self, path: str) -> str:
        if not self.bare:
            return (self.repo / path).read_text()
        return subprocess.check_output(
            ['git', '-C',
             str(self.repo), 'show', f'{self.commit}:{path}'],
            text=True)

    def load(self, path: str, package: str, name: str):
        """Execute an official file as module ``package.name``."""
        module = types.ModuleType(f'{package}.{name}')
        module.__package__ = package
        module.__file__ = f'<official>/{path}'
        code = compile(self.read(path), module.__file__, 'exec')
        with _stubbed_imports():
            sys.modules[module.__name__] = module
            exec(code, module.__dict__)
        return module


def slowfast_cfg(depth, embed_dim, head_dim, mlp_ratio, num_classes,
                 crop_size, **uniformer):
    """The SlowFast config fields the official video models read."""
    ns = types.SimpleNamespace
    fields = dict(
        DEPTH=depth,
        EMBED_DIM=embed_dim,
        HEAD_DIM=head_dim,
        MLP_RATIO=mlp_ratio,
        QKV_BIAS=True,
        QKV_SCALE=None,
        REPRESENTATION_SIZE=None,
        DROPOUT_RATE=0.,
        ATTENTION_DROPOUT_RATE=0.,
        DROP_DEPTH_RATE=0.,
        SPLIT=False,
        STD=False,
        PRETRAIN_NAME='')
    fields.update(uniformer)
    return ns(
        MODEL=ns(
            NUM_CLASSES=num_classes,
            USE_CHECKPOINT=False,
            CHECKPOINT_NUM=[0, 0, 0, 0]),
        DATA=ns(TRAIN_CROP_SIZE=crop_size, INPUT_CHANNEL_NUM=[3]),
        UNIFORMER=ns(**fields))


# ---------------------------------------------------- models from our archs
# ``arch``: a resolved arch of ours (``models.arch.resolve_arch`` /
# ``resolve_light_arch``: ``mlp_ratios`` and ``layer_scale`` per stage).
def one_mlp_ratio(arch: dict) -> float:
    ratios = set(arch['mlp_ratios'])
    if len(ratios) != 1:
        raise ValueError('the official 2D and video models take one MLP '
                         f'ratio for all stages, got {arch["mlp_ratios"]}')
    return ratios.pop()


def det_uniformer(src: Source,
                  arch: dict,
                  attn_mode: str = 'global',
                  window_size: int = 14) -> nn.Module:
    """The detection backbone (``UniFormer`` of mmdet's registry) of one of
    our 2D archs (``models.arch.resolve_arch``)."""
    det = src.load(DET_2D, 'official.det.backbones', 'uniformer')
    return det.UniFormer(
        layers=arch['depths'],
        embed_dim=arch['embed_dims'],
        head_dim=arch['head_dim'],
        mlp_ratio=one_mlp_ratio(arch),
        windows=attn_mode == 'window',
        hybrid=attn_mode == 'hybrid',
        window_size=window_size)


def video_uniformer(src: Source, arch: dict, num_classes: int,
                    crop_size: int) -> nn.Module:
    """SlowFast's ``Uniformer`` (backbone and head) of one of our 3D archs;
    called with ``[clip]``."""
    video = src.load(VIDEO, 'official.video', 'uniformer')
    return video.Uniformer(
        slowfast_cfg(arch['depths'], arch['embed_dims'], arch['head_dim'],
                     one_mlp_ratio(arch), num_classes, crop_size))


def light_video_uniformer(src: Source, arch: dict, num_classes: int,
                          crop_size: int) -> nn.Module:
    """SlowFast's fp32 hourglass model (backbone and both heads) of one of
    our hourglass 3D archs; called with ``[clip]``."""
    path, cls = ((VIDEO_LIGHT_LS, 'Uniformer_light_ls_fp32')
                 if any(arch['layer_scale']) else
                 (VIDEO_LIGHT, 'Uniformer_light_fp32'))
    video = src.load(path, 'official.video', cls.lower())
    cfg = slowfast_cfg(
        arch['depths'],
        arch['embed_dims'],
        arch['head_dim'],
        list(arch['mlp_ratios']),
        num_classes,
        crop_size,
        PRUNE_RATIO=arch['prune_ratios'],
        TRADE_OFF=arch['trade_offs'],
        INIT_VALUE=1e-6)
    return getattr(video, cls)(cfg)
