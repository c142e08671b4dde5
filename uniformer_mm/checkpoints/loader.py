"""MMEngine's loading of local checkpoint files, made weights-only.

Importing ``uniformer_mm`` only registers modules; routing MMEngine's local
checkpoint loading (``load_from``, ``--resume``, ``Pretrained`` init of
other modules, the inferencers) through our weights-only loader changes the
whole process, so it is installed explicitly:

* our tools (``tools/train.py``, ``tools/test.py``, the demos) call
  :func:`install_weights_only_loader`;
* a config (also under ``mim train`` or a codebase's own ``tools/train.py``)
  imports :mod:`uniformer_mm.checkpoints.safe_loading`::

      custom_imports = dict(
          imports=['uniformer_mm', 'uniformer_mm.checkpoints.safe_loading'],
          allow_failed_imports=False)

  or lists ``WeightsOnlyCheckpointHook`` in ``custom_hooks`` (it installs
  the loader before the runner loads anything);
* a script of your own calls the function once (calling it again is a
  no-op).
"""
from mmengine.runner import CheckpointLoader

from .io import load_local_checkpoint


def weights_only_loader_installed() -> bool:
    """Whether MMEngine loads local files with our weights-only loader."""
    return CheckpointLoader._schemes.get('') is load_local_checkpoint


def install_weights_only_loader() -> None:
    """Load local checkpoint files through MMEngine weights-only.

    The same ``torch.load(weights_only=True)`` as torch's default, plus the
    one allowlisted type the official files need (``argparse.Namespace``),
    the ``HistoryBuffer`` logs of checkpoints written by
    :class:`~uniformer_mm.checkpoints.WeightsOnlyCheckpointHook` restored, and
    errors that name the fix. Idempotent.
    """
    if not weights_only_loader_installed():
        # replaces MMEngine's own local loader (prefix ''), hence force
        CheckpointLoader.register_scheme(
            prefixes='', loader=load_local_checkpoint, force=True)
