"""Checkpoints that load under ``torch.load(weights_only=True)``."""
from mmengine.hooks import Hook
from mmengine.logging import print_log

from ..utils.checkpoint_io import restore_history_buffers, to_weights_only


class WeightsOnlyCheckpointHook(Hook):
    """Write training checkpoints that load weights-only, and resume them.

    MMEngine 0.10 pickles numpy arrays, numpy scalars and its
    ``HistoryBuffer`` (whose pickle calls ``getattr``) into every training
    checkpoint; torch >= 2.6 loads weights-only by default, so ``--resume``
    and ``load_from`` fail, and allowlisting ``getattr`` would reopen the
    door to code execution for every file. This hook rewrites the checkpoint
    just before it is saved into plain containers, numbers, strings and
    tensors (numpy -> tensors / Python numbers, ``HistoryBuffer`` -> a tagged
    dict) and rebuilds the ``HistoryBuffer`` objects after loading, so
    resuming restores the iteration, optimizer, LR schedule and logs as
    before. ``tools/train.py`` adds it to every config.
    """
    priority = 'VERY_LOW'  # after every hook that adds to the checkpoint

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        clean, dropped = to_weights_only(checkpoint)
        checkpoint.clear()
        checkpoint.update(clean)
        for path in dropped:
            print_log(
                f'checkpoint entry {path} is not a plain type and was not '
                'saved', logger='current', level=30)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        restore_history_buffers(checkpoint)
