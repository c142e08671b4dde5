"""Start-up hooks of ``uniformer_mm``, run by ``uniformer_mm-startup.pth``.

Python's ``site`` module executes the ``import`` line of every ``*.pth`` file
in site-packages when an interpreter starts, so this module runs in EVERY
Python process of the environment. It therefore imports nothing at all (not
even ``importlib.abc``, which pulls in ``importlib.resources``: the finders
below are duck-typed) and only adds two ``sys.meta_path`` finders; the work
happens later, and only if the modules concerned are imported:

* ``mmaction.models.localizers.drn``: mmaction2 1.2.0's wheel imports this
  subpackage but does not ship it, so ``import mmaction.models`` fails. The
  finder answers for it only when the real files are missing (it comes after
  the normal path finders) with a stand-in whose ``DRN`` raises a clear error.
* ``mmengine.config.utils``: MMEngine resolves ``package::path`` configs only
  for the packages named in its ``MODULE2PACKAGE`` table. Once that module has
  been executed, ``uniformer_mm`` is added to the table, so that
  ``_base_ = ['uniformer_mm::detection/...']`` and ``Config.fromfile(...)``
  work without importing ``uniformer_mm`` first. (MMEngine 0.10 offers no
  registration API: open-mmlab/mmengine#1411 proposed one and was closed.)
* ``mmengine.config.config``: MMEngine gives every typed dict of a
  ``package::`` base the registry scope ``_scope_=package``, the
  OpenMMLab convention of one package, one codebase. ``uniformer_mm``
  configs belong to four codebases (their ``default_scope``), so an
  inherited ``TopdownPoseEstimator`` or pose ``CocoDataset`` was looked up in
  a ``uniformer_mm`` registry and not found. Once that module has been
  executed, ``Config._get_cfg_path`` answers ``uniformer_mm::`` paths with
  no scope: their names resolve in the config's ``default_scope``, as for a
  relative ``_base_`` (MMEngine 0.x; does nothing where that method is
  missing).

Both are fail-safe: an error here must never break an unrelated program.
"""
import sys

_DRN_PACKAGE = 'mmaction.models.localizers.drn'
_DRN_MODULE = _DRN_PACKAGE + '.drn'
_MMENGINE_CONFIG_UTILS = 'mmengine.config.utils'
_MMENGINE_CONFIG = 'mmengine.config.config'

# The key users write before '::' and the value MMEngine hands to
# mmengine.utils.get_installed_path. A module *inside* the package rather
# than the distribution name: get_installed_path then locates the package
# through importlib (dirname of uniformer_mm/version.py), i.e. the copy that
# Python actually imports. Resolving the distribution name instead gives
# site-packages/uniformer_mm, which does not exist for an editable install.
CONFIG_SCOPE = 'uniformer_mm'
CONFIG_LOCATOR = 'uniformer_mm.version'


class _MissingDRN:
    """Placeholder for MMAction2's DRN localizer (not in the 1.2.0 wheel)."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            "MMAction2's DRN localizer is missing from the mmaction2 1.2.0 "
            'distribution on PyPI (the mmaction/models/localizers/drn/ folder '
            'is not packaged). Install mmaction2 from its git repository to '
            'use DRN.')


class _DRNStandInLoader:

    def create_module(self, spec):
        return None  # default module creation

    def exec_module(self, module):
        if module.__name__ == _DRN_PACKAGE:
            module.__path__ = []
            return
        from mmaction.registry import MODELS
        _MissingDRN.__name__ = 'DRN'
        module.DRN = _MissingDRN
        MODELS.register_module('DRN', module=_MissingDRN, force=False)


class DRNStandInFinder:
    """Finds the stand-in DRN modules (appended after the path finders)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in (_DRN_PACKAGE, _DRN_MODULE):
            return None
        from importlib.machinery import ModuleSpec
        return ModuleSpec(
            fullname, _DRNStandInLoader(), is_package=fullname == _DRN_PACKAGE)


class _RegisteringLoader:
    """Runs the real loader of mmengine.config.utils, then registers."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        if module.__name__ == _MMENGINE_CONFIG:
            unscope_package_configs(module)
        else:
            register_config_package(module)

    def __getattr__(self, name):  # get_source, get_code, ... for tools
        return getattr(self._loader, name)


class MMEngineConfigFinder:
    """Wraps the loaders of ``mmengine.config.utils`` and
    ``mmengine.config.config`` (inserted first)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in (_MMENGINE_CONFIG_UTILS, _MMENGINE_CONFIG):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, 'find_spec'):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _RegisteringLoader(spec.loader)
                return spec
        return None


def register_config_package(utils_module) -> None:
    """Add ``uniformer_mm`` to MMEngine's ``package::`` table (idempotent)."""
    try:
        utils_module.MODULE2PACKAGE.setdefault(CONFIG_SCOPE, CONFIG_LOCATOR)
    except Exception:  # a future MMEngine without the table: nothing to do
        pass


def unscope_package_configs(config_module) -> None:
    """``uniformer_mm::`` bases without a registry scope (idempotent)."""
    try:
        config_cls = config_module.Config
        original = config_cls.__dict__['_get_cfg_path'].__func__
        if getattr(original, 'unscoped', False):
            return

        def _get_cfg_path(cfg_path, filename):
            path, scope = original(cfg_path, filename)
            return path, (None if scope == CONFIG_SCOPE else scope)

        _get_cfg_path.unscoped = True
        config_cls._get_cfg_path = staticmethod(_get_cfg_path)
    except Exception:  # another MMEngine: nothing to do
        pass


def install() -> None:
    """Install both finders once; never raises."""
    try:
        meta_path = sys.meta_path
        if not any(isinstance(f, DRNStandInFinder) for f in meta_path):
            meta_path.append(DRNStandInFinder())
        utils_module = sys.modules.get(_MMENGINE_CONFIG_UTILS)
        config_module = sys.modules.get(_MMENGINE_CONFIG)
        if utils_module is not None:  # imported before us: patch now
            register_config_package(utils_module)
        if config_module is not None:
            unscope_package_configs(config_module)
        if (utils_module is None or config_module is None) and not any(
                isinstance(f, MMEngineConfigFinder) for f in meta_path):
            meta_path.insert(0, MMEngineConfigFinder())
    except Exception:
        pass
