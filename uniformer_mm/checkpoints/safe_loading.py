"""Import this module to load local checkpoints weights-only in MMEngine.

For configs run by tools that are not ours (``mim train``, a codebase's own
``tools/train.py`` / ``tools/test.py``)::

    custom_imports = dict(
        imports=['uniformer_mm', 'uniformer_mm.checkpoints.safe_loading'],
        allow_failed_imports=False)

Importing it is the whole point: it calls
:func:`uniformer_mm.checkpoints.install_weights_only_loader` (idempotent), see
:mod:`uniformer_mm.checkpoints.loader`.
"""
from .loader import install_weights_only_loader

install_weights_only_loader()
