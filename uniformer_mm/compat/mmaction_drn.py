"""Stand-in for ``mmaction.models.localizers.drn``, absent from mmaction2
1.2.0.

The mmaction2 1.2.0 wheel and sdist on PyPI ship ``localizers/__init__.py``
importing ``.drn.drn`` but not the ``drn/`` folder itself, so
``import mmaction.models`` fails. (1.1.0 is complete but asserts
mmcv < 2.1.0, and mmcv 2.0.x does not compile against torch >= 2.4.)

The finder that stands in for the two missing modules lives in the top-level
module ``_uniformer_mm_startup``, which ``uniformer_mm-startup.pth`` runs at
interpreter start-up, so ``import mmaction.models`` works in the environment
without importing ``uniformer_mm`` first. :func:`install` is kept for
interpreters started without site-packages' ``.pth`` files (``python -S``,
embedded): importing ``uniformer_mm`` still installs it. Nothing in
site-packages is modified.
"""
from _uniformer_mm_startup import DRNStandInFinder
from _uniformer_mm_startup import install as _install_startup_hooks

__all__ = ['DRNStandInFinder', 'install']


def install() -> None:
    """Make ``import mmaction.models`` work on the 1.2.0 wheel (idempotent)."""
    _install_startup_hooks()
