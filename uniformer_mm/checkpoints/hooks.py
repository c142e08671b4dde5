"""The training hooks of checkpoint handling.

* :class:`WeightsOnlyCheckpointHook`: checkpoints that load under
  ``torch.load(weights_only=True)``, with the RNG state for exact resume;
* :class:`SafeCheckpointHook`: atomic saves, resume from the last good
  checkpoint, ``load_from`` share check;
* :class:`PreemptionHook`: save and exit on SIGTERM / SIGUSR1;
* :class:`NonFiniteLossHook`: stop at the first inf/NaN loss.

``tools/train.py`` uses all four in every config
(:func:`uniformer_mm.engine.cli.add_reliability_hooks`).
"""
import math
import os
import os.path as osp
import random
import signal
from collections import deque
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine import dist
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop

from .finetune import (CheckpointMismatchError, FineTuneRunner,
                       checkpoint_state_dict)
from .io import restore_history_buffers, to_weights_only
from .layout import fit_problems, listing
from .loader import install_weights_only_loader
from .workdir import (LAST_CHECKPOINT, find_resumable_checkpoint,
                      list_checkpoints, remove_stale_temp_files,
                      replace_atomically, temp_path, write_text_atomically)


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


def any_rank(flag: bool) -> bool:
    """Whether ``flag`` is set on any rank (every rank gets the same
    answer, so all of them stop together)."""
    if not dist.is_distributed():
        return bool(flag)
    value = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(value, op='sum')  # moved to the backend's device
    return bool(value.item() > 0)


def _unwrapped(model):
    return model.module if is_model_wrapper(model) else model


class NonFiniteWeightsError(RuntimeError):
    """The model holds inf/NaN weights; they are not saved."""


class NonFiniteLossError(RuntimeError):
    """A training loss is inf or NaN."""


def non_finite_weights(model) -> List[str]:
    """The names of ``model``'s floating-point tensors holding inf/NaN."""
    return [
        name for name, value in _unwrapped(model).state_dict().items()
        if value.is_floating_point() and not torch.isfinite(value).all()
    ]


class SafeCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` with checkpoints that survive a kill or
    a full disk at any moment, and resume that finds the last good one.

    * The checkpoint is written to a temporary file in the same directory,
      flushed and renamed; ``last_checkpoint`` is written the same way;
      only then are checkpoints beyond ``max_keep_ckpts`` removed (MMEngine
      removes the oldest *before* writing the new one). A save that fails
      (``OSError``: full disk, quota) removes its temporary file, logs which
      checkpoints are kept and re-raises.
    * A model holding inf/NaN weights is never saved
      (:class:`NonFiniteWeightsError`).
    * Auto-resume (``resume=True`` without a file) resumes from
      :func:`~uniformer_mm.checkpoints.workdir.find_resumable_checkpoint`:
      ``last_checkpoint`` if it names a readable file, else the newest
      readable ``iter_*/epoch_*.pth``; a work dir whose checkpoints are all
      unreadable stops the run instead of training from scratch over them.
      A work dir without checkpoints starts from scratch, or from
      ``cfg.load_from_if_no_checkpoint`` (``tools/train.py --resume`` keeps
      the config's ``load_from`` there).
    * Resuming refuses a checkpoint whose model tensors (names, shapes) or
      optimizer parameter groups differ from what this config builds,
      naming the differences.
    * ``load_from`` (not resuming, not a ``FineTuneRunner``) refuses a
      checkpoint whose tensors match (name and shape) less than
      ``min_load_share`` of the model's.

    Arguments are ``CheckpointHook``'s plus ``min_load_share`` (default
    0.5; None switches the check off). Non-local ``out_dir`` (a URL) falls
    back to MMEngine's writing.
    """

    def __init__(self, *args, min_load_share: Optional[float] = 0.5, **kwargs):
        super().__init__(*args, **kwargs)
        self.min_load_share = min_load_share

    def before_run(self, runner) -> None:
        super().before_run(runner)
        if getattr(runner, '_resume', False) and runner._load_from is None:
            path = find_resumable_checkpoint(runner.work_dir, runner.logger)
            if path is None:
                fallback = (runner.cfg or {}).get('load_from_if_no_checkpoint')
                runner.logger.info(
                    f'resume: no checkpoint in {runner.work_dir}; starting ' +
                    (f'from load_from {fallback}'
                     if fallback else 'from scratch'))
                runner._resume = False
                runner._load_from = fallback
            else:
                runner._load_from = path

    def before_train(self, runner) -> None:
        super().before_train(runner)
        if self._is_local() and is_main_process():
            for name in remove_stale_temp_files(self.out_dir):
                runner.logger.info(
                    f'removed {name}, the partial save of a killed run')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        training = isinstance(getattr(runner, '_train_loop', None), BaseLoop)
        if training and getattr(runner, '_resume', False):
            # MMEngine resumes the model non-strictly: a checkpoint of
            # another config would resume with layers left random
            check_resume_fits(
                _unwrapped(runner.model),
                runner.optim_wrapper,
                checkpoint,
                source=str(runner._load_from))
            return
        if (self.min_load_share is None or not training
                or isinstance(runner, FineTuneRunner)):
            return
        check_load_share(
            _unwrapped(runner.model),
            checkpoint_state_dict(checkpoint),
            self.min_load_share,
            source=str(runner._load_from))

    def _is_local(self) -> bool:
        return '://' not in str(self.out_dir)

    def _save_checkpoint_with_step(self, runner, step, meta):
        bad = non_finite_weights(runner.model)
        if bad:
            raise NonFiniteWeightsError(
                f'not saving the checkpoint of step {step}: {len(bad)} '
                f'tensors hold inf/NaN ({listing(bad)}); the earlier '
                'checkpoints are kept. Lower the learning rate or clip '
                'gradients (optim_wrapper.clip_grad) and resume from the '
                'last checkpoint.')
        if not self._is_local():
            return super()._save_checkpoint_with_step(runner, step, meta)
        filename = self.filename_tmpl.format(step)
        path = osp.join(self.out_dir, filename)
        rotating = self.max_keep_ckpts > 0
        kept_before = list(getattr(self, 'keep_ckpt_ids', ()))
        keep = list(kept_before)
        if rotating and (not keep or keep[-1] != step):
            keep.append(step)
        stale = keep[:-self.max_keep_ckpts] if rotating else []
        keep = keep[len(stale):]
        previous = (kept_before, self.last_ckpt)
        # stored in the new checkpoint, as MMEngine does
        if rotating:
            runner.message_hub.update_info('keep_ckpt_ids', keep)
        runner.message_hub.update_info('last_ckpt', path)
        self.last_ckpt = path
        tmp = temp_path(path)
        try:
            runner.save_checkpoint(
                self.out_dir,
                osp.basename(tmp),
                self.file_client_args,
                save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler,
                meta=meta,
                by_epoch=self.by_epoch,
                backend_args=self.backend_args,
                **self.args)
            if is_main_process():
                replace_atomically(tmp, path)
                write_text_atomically(
                    osp.join(runner.work_dir, LAST_CHECKPOINT), path)
        except OSError as error:
            if osp.exists(tmp):
                os.remove(tmp)
            if rotating:
                runner.message_hub.update_info('keep_ckpt_ids', previous[0])
            runner.message_hub.update_info('last_ckpt', previous[1])
            self.last_ckpt = previous[1]
            kept = list_checkpoints(self.out_dir)
            runner.logger.error(
                f'saving checkpoint {path} failed ({type(error).__name__}: '
                f'{error}); nothing was removed, the earlier checkpoints are '
                f'intact: {listing(kept) or "none"}. Free space (or raise '
                'the quota) and resume with --resume.')
            raise
        if rotating:
            self.keep_ckpt_ids = deque(keep, self.max_keep_ckpts)
        if is_main_process():
            for old in stale:
                old_path = osp.join(self.out_dir,
                                    self.filename_tmpl.format(old))
                if osp.isfile(old_path):
                    os.remove(old_path)


def check_resume_fits(model, optim_wrapper, checkpoint: dict,
                      source: str) -> None:
    """Raise :class:`CheckpointMismatchError` naming every difference
    between the checkpoint to resume and the model / optimizer this config
    builds (tensor names and shapes; parameter groups and their sizes)."""
    own, saved = model.state_dict(), checkpoint_state_dict(checkpoint)
    problems = fit_problems(
        [k for k in own if k not in saved], [k for k in saved if k not in own],
        [
            f'{k} {tuple(saved[k].shape)} in the file, {tuple(v.shape)} here'
            for k, v in own.items()
            if k in saved and tuple(saved[k].shape) != tuple(v.shape)
        ])
    state = checkpoint.get('optimizer')
    optimizer = getattr(optim_wrapper, 'optimizer', None)
    if (isinstance(state, dict) and 'param_groups' in state
            and optimizer is not None):
        in_file = [len(g['params']) for g in state['param_groups']]
        here = [len(g['params']) for g in optimizer.param_groups]
        if in_file != here:
            problems.append(
                f'optimizer parameter groups: {len(in_file)} in the file '
                f'(sizes {in_file}), {len(here)} built here (sizes {here}): '
                'the model or optim_wrapper.paramwise_cfg changed')
    if problems:
        raise CheckpointMismatchError(
            f'cannot resume from {source}: it was not written by this '
            'config.\n  ' + '\n  '.join(problems) + '\nResume with the '
            'config that wrote it, or train in a new work dir (load_from '
            'for its weights, runner_type FineTuneRunner across class '
            'counts).')


def check_load_share(model, state_dict: dict, min_share: float,
                     source: str) -> float:
    """The share of ``model``'s tensors that ``state_dict`` fills (same
    name and shape); raises :class:`CheckpointMismatchError` below
    ``min_share``."""
    own = model.state_dict()
    fitting = [
        k for k, v in own.items()
        if k in state_dict and tuple(state_dict[k].shape) == tuple(v.shape)
    ]
    share = len(fitting) / max(len(own), 1)
    if share < min_share:
        missing = [k for k in own if k not in fitting]
        raise CheckpointMismatchError(
            f'load_from {source} fills only {len(fitting)} of the model\'s '
            f'{len(own)} tensors ({share:.0%}, below the required '
            f'{min_share:.0%}); not filled: {listing(missing)}. It looks '
            'like a checkpoint of another model or task. To fine-tune from '
            "it set runner_type = 'FineTuneRunner'; for a backbone file use "
            "model.backbone.init_cfg = dict(type='Pretrained', "
            'checkpoint=...); to accept it as it is, lower or disable '
            'default_hooks.checkpoint.min_load_share.')
    return share


class NonFiniteLossHook(Hook):
    """Stop training at the first inf/NaN loss, naming the iteration and
    the loss terms.

    Args:
        max_skipped_steps (int): Consecutive non-finite steps tolerated when
            the weights stayed finite (the optimizer skipped the step, as
            AMP's gradient scaler does on overflow). Without AMP a NaN loss
            reaches the weights and stops the run at once. Defaults to 0.

    A step the gradient scaler skips because of overflowing *gradients*
    (the loss is finite) is AMP's normal operation and not reported.
    """
    priority = 'ABOVE_NORMAL'  # before logging and checkpointing the iter

    def __init__(self, max_skipped_steps: int = 0):
        self.max_skipped_steps = max_skipped_steps
        self._skipped = 0

    @staticmethod
    def _non_finite_terms(outputs) -> List[str]:
        terms = []
        for name, value in (outputs or {}).items():
            try:
                number = float(value)
            except (TypeError, ValueError, RuntimeError):
                continue  # not a scalar
            if not math.isfinite(number):
                terms.append(f'{name}={number}')
        return terms

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        terms = self._non_finite_terms(outputs)
        if not any_rank(bool(terms)):
            self._skipped = 0
            return
        where = f'iteration {runner.iter + 1}'
        what = ', '.join(terms) if terms else 'on another rank'
        bad = non_finite_weights(runner.model)
        if not bad and self._skipped < self.max_skipped_steps:
            self._skipped += 1
            runner.logger.warning(
                f'non-finite loss at {where} ({what}); the step was skipped '
                f'and the weights are finite ({self._skipped} of '
                f'{self.max_skipped_steps} consecutive skips allowed)')
            return
        raise NonFiniteLossError(
            f'non-finite loss at {where}: {what}. ' +
            (f'{len(bad)} weight tensors are now inf/NaN; ' if bad else '') +
            'no checkpoint of this state is written. '
            'Lower the learning rate, add gradient clipping '
            '(optim_wrapper.clip_grad=dict(max_norm=...)) or check the data '
            'of this iteration, then resume from the last checkpoint.')


# os.EX_TEMPFAIL ("temporary failure, try again"): tells a requeue script a
# preempted run, which saved and should be requeued, from a crash (1)
PREEMPTED_EXIT_STATUS = 75


class PreemptionHook(Hook):
    """On SIGTERM or SIGUSR1: finish the current iteration, save a
    resumable checkpoint, log one line, exit with
    :data:`PREEMPTED_EXIT_STATUS` (75).

    SIGTERM is what Slurm (and Kubernetes) send on preemption and at the
    time limit; SIGUSR1 is what ``srun --signal=USR1@120`` sends 120 s
    before the time limit. All ranks agree on the stop (one ``all_reduce``
    of the flag per iteration). Iteration-based runs resume exactly where
    they stopped; an epoch-based run's checkpoint (``epoch_E.pth``, E the
    completed epochs) resumes at the start of the interrupted epoch with
    the weights trained so far.

    Args:
        signals (Sequence[str]): Signal names. Defaults to
            ``('SIGTERM', 'SIGUSR1')``.
        exit_status (int): The process's exit status after saving.
    """
    priority = 'LOWEST'  # after the checkpoint hook's save of this iteration

    def __init__(self,
                 signals: Sequence[str] = ('SIGTERM', 'SIGUSR1'),
                 exit_status: int = PREEMPTED_EXIT_STATUS):
        self.signals = tuple(signals)
        self.exit_status = exit_status
        self.received: Optional[int] = None

    def _handle(self, signum, frame) -> None:
        # only a flag: the iteration in flight finishes first
        self.received = signum

    def before_train(self, runner) -> None:
        for name in self.signals:
            try:
                signal.signal(getattr(signal, name), self._handle)
            except ValueError:  # not the main thread
                runner.logger.warning(
                    f'PreemptionHook: cannot handle {name} outside the '
                    'main thread; a preemption will not save')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if not any_rank(self.received is not None):
            return
        path = self._save(runner)
        name = signal.Signals(self.received).name if self.received else \
            'a signal on another rank'
        runner.logger.warning(
            f'preempted ({name}): iteration {runner.iter + 1} finished, '
            f'resumable checkpoint {path} saved; exiting with status '
            f'{self.exit_status}')
        raise SystemExit(self.exit_status)

    @staticmethod
    def _save(runner) -> str:
        hook = next((h for h in runner.hooks if isinstance(h, CheckpointHook)),
                    None)
        if hook is None:
            raise RuntimeError('PreemptionHook needs a CheckpointHook '
                               '(default_hooks.checkpoint) to save')
        if hook.by_epoch:
            step = runner.epoch
            meta = dict(epoch=runner.epoch, iter=runner.iter + 1)
        else:
            step = runner.iter + 1
            meta = dict(epoch=runner.epoch, iter=step)
        path = osp.join(hook.out_dir, hook.filename_tmpl.format(step))
        if hook.last_ckpt != path or hook.by_epoch:  # not saved this iter
            hook._save_checkpoint_with_step(runner, step, meta)
        return path
