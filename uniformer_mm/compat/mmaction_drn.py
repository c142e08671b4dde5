"""MMAction2: stand-in for ``mmaction.models.localizers.drn``.

Upstream: the mmaction2 1.2.0 wheel and sdist on PyPI ship
``localizers/__init__.py`` importing ``.drn.drn`` but not the ``drn/``
folder, so ``import mmaction.models`` fails with ``No module named
'mmaction.models.localizers.drn'`` (open-mmlab/mmaction2#2714). 1.1.0 is
complete but asserts mmcv < 2.1.0, which does not compile against
torch >= 2.4.

Applies to: mmaction2 1.2.0, and only when the real files are missing (a
source install has them and is used). The stand-in's ``DRN`` raises an error
saying how to get the real one.
"""
PACKAGE = 'mmaction.models.localizers.drn'
MODULE = PACKAGE + '.drn'
FIRST = LAST = (1, 2, 0)


def applies(version) -> bool:
    from _uniformer_mm_startup import in_range
    return in_range(version, FIRST, LAST)


class MissingDRN:
    """Placeholder for MMAction2's DRN localizer (not in the 1.2.0 wheel)."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError(
            "MMAction2's DRN localizer is missing from the mmaction2 1.2.0 "
            'distribution on PyPI (the mmaction/models/localizers/drn/ folder '
            'is not packaged, open-mmlab/mmaction2#2714). Install mmaction2 '
            'from its git repository to use DRN.')


class _StandInLoader:

    def create_module(self, spec):
        return None  # default module creation

    def exec_module(self, module):
        if module.__name__ == PACKAGE:
            module.__path__ = []
            return
        from mmaction.registry import MODELS
        MissingDRN.__name__ = 'DRN'
        module.DRN = MissingDRN
        MODELS.register_module('DRN', module=MissingDRN, force=False)


def find_spec(fullname, real_spec):
    """The stand-in's spec, or None (a version that ships the files, or the
    files are there)."""
    from _uniformer_mm_startup import installed_version
    if fullname not in (PACKAGE, MODULE):
        return None
    if not applies(installed_version('mmaction2')) or real_spec() is not None:
        return None
    from importlib.machinery import ModuleSpec
    return ModuleSpec(
        fullname, _StandInLoader(), is_package=fullname == PACKAGE)


def install() -> None:
    """Make ``import mmaction.models`` work on the 1.2.0 wheel (idempotent)."""
    from _uniformer_mm_startup import install as install_startup_hook
    install_startup_hook()
