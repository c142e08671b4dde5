"""Checkpoints that load under ``torch.load(weights_only=True)``."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.logging import print_log

from .io import restore_history_buffers, to_weights_only
from .loader import install_weights_only_loader


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
    before. ``tools/train.py`` adds it to every config. Before the run it
    installs the weights-only loader for local files
    (:func:`~uniformer_mm.checkpoints.install_weights_only_loader`), so a
    config listing this hook loads and resumes weights-only under any tool.

    It also saves the random states (torch, numpy, ``random``) of the
    process and, on resume, restores them just before the first resumed
    iteration runs, so a resumed single-process run continues exactly like an
    uninterrupted one (with ``num_workers >= 1`` the data pipeline's own
    randomness lives in the workers, which MMEngine seeds per worker).
    """
    priority = 'VERY_LOW'  # after every hook that adds to the checkpoint

    def __init__(self):
        self._pending_rng = None

    def before_run(self, runner) -> None:
        # before the runner initialises weights, loads or resumes
        install_weights_only_loader()

    @staticmethod
    def _capture_rng() -> dict:
        _, keys, pos, has_gauss, gauss = np.random.get_state()
        return dict(
            torch=torch.get_rng_state(),
            numpy=dict(
                keys=torch.from_numpy(keys.astype(np.int64)),
                pos=pos,
                has_gauss=has_gauss,
                cached_gaussian=gauss),
            python=random.getstate())

    @staticmethod
    def _restore_rng(state: dict) -> None:
        torch.set_rng_state(state['torch'])
        numpy_state = state['numpy']
        np.random.set_state(
            ('MT19937', numpy_state['keys'].numpy().astype(np.uint32),
             numpy_state['pos'], numpy_state['has_gauss'],
             numpy_state['cached_gaussian']))
        version, internal, gauss = state['python']
        random.setstate((version, tuple(internal), gauss))

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['rng_state'] = self._capture_rng()
        clean, dropped = to_weights_only(checkpoint)
        checkpoint.clear()
        checkpoint.update(clean)
        for path in dropped:
            print_log(
                f'checkpoint entry {path} is not a plain type and was not '
                'saved',
                logger='current',
                level=30)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # local files were restored by our loader already (a no-op then);
        # this covers the other MMEngine loaders (http, ...)
        restore_history_buffers(checkpoint)
        if getattr(runner, '_resume', False):
            self._pending_rng = checkpoint.get('meta', {}).get('rng_state')

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        # after the loop has re-created and advanced the dataloader
        if self._pending_rng is not None:
            self._restore_rng(self._pending_rng)
            self._pending_rng = None
