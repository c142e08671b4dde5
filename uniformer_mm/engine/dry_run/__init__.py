"""Dry run of a config: the whole training / resuming / testing path on
stand-in data, before a job is queued on a cluster.

:func:`dry_run` takes any config of the four codebases and

1. writes stand-in data in the config's own dataset layout (under a stand-in
   root, never over real data) and stand-in weights in the official
   published layout for every checkpoint the config loads that is not there
   (random, under names that say so), and points the config at them;
2. changes only what a CPU-only machine forces (batch size, data loader
   workers, schedule length, AMP -> fp32 without CUDA, SyncBN -> BN without
   a process group) and reports each change;
3. trains ``iters`` iterations with the config's own pipelines, model,
   optimizer, hooks and validation, saves a checkpoint, resumes from it for
   one more iteration, and tests the resumed checkpoint with the config's
   own test pipeline and evaluator on one or two samples.

``small_inputs=True`` (the zoo tests in CI, :mod:`.small_inputs`) also
shrinks image, crop and clip sizes and the number of test clips, each
reported as a change; a user's dry run keeps the config's own scales.
"""
from .base import STAGES, DryRunError
from .run import DryRunResult, dry_run
from .standin_weights import STANDIN_WEIGHTS_PREFIX

__all__ = [
    'dry_run', 'DryRunResult', 'DryRunError', 'STAGES',
    'STANDIN_WEIGHTS_PREFIX'
]
