"""Stand-in for ``mmaction.models.localizers.drn``, absent from mmaction2 1.2.0.

The mmaction2 1.2.0 wheel and sdist on PyPI ship ``localizers/__init__.py``
importing ``.drn.drn`` but not the ``drn/`` folder itself, so
``import mmaction.models`` fails. (1.1.0 is complete but asserts
mmcv < 2.1.0, and mmcv 2.0.x does not compile against torch >= 2.4.)

:func:`install` appends a finder to ``sys.meta_path`` that answers for those
two module names only, and only when the real files are missing (the normal
path finders come first). The stand-in ``DRN`` raises a clear error if a
config asks for it. Nothing in site-packages is modified.
"""
import importlib.abc
import importlib.machinery
import sys

_PACKAGE = 'mmaction.models.localizers.drn'
_MODULE = _PACKAGE + '.drn'


class _MissingDRN:
    """Placeholder for MMAction2's DRN localizer (not in the 1.2.0 wheel)."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            "MMAction2's DRN localizer is missing from the mmaction2 1.2.0 "
            'distribution on PyPI (the mmaction/models/localizers/drn/ folder '
            'is not packaged). Install mmaction2 from its git repository to '
            'use DRN.')


class _StandInLoader(importlib.abc.Loader):

    def create_module(self, spec):
        return None  # default module creation

    def exec_module(self, module):
        if module.__name__ == _PACKAGE:
            module.__path__ = []
            return
        from mmaction.registry import MODELS
        module.DRN = _MissingDRN
        _MissingDRN.__name__ = 'DRN'
        MODELS.register_module('DRN', module=_MissingDRN, force=False)


class _StandInFinder(importlib.abc.MetaPathFinder):

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in (_PACKAGE, _MODULE):
            return None
        return importlib.machinery.ModuleSpec(
            fullname, _StandInLoader(), is_package=fullname == _PACKAGE)


def install() -> None:
    """Make ``import mmaction.models`` work on the 1.2.0 wheel (idempotent)."""
    if not any(isinstance(f, _StandInFinder) for f in sys.meta_path):
        sys.meta_path.append(_StandInFinder())
