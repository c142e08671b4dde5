"""The child of tests/engine/test_faults_end_to_end.py: the 8-iteration
toy training run with the hooks tools/train.py adds, reporting each finished
iteration on a pipe and optionally SIGKILLed at one step of a save.

    python preempted_training.py WORK_DIR KILL_AT SLEEP FD

A fresh interpreter, not a fork of pytest: a fork of a process whose
OpenMP threads have run deadlocks in the child (seen in CI after the other
slow tests).
"""
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from mmengine.fileio.backends import LocalBackend  # noqa: E402
from mmengine.hooks import Hook  # noqa: E402
from toy_training import toy_runner  # noqa: E402

SAFE = 'SafeCheckpointHook'


class _Report(Hook):
    """Writes ``n`` to ``fd`` after iteration n; sleeps before each."""

    def __init__(self, fd, sleep, state):
        self.fd, self.sleep, self.state = fd, sleep, state

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        self.state['active'] = runner.iter + 1 == 8  # the second save
        time.sleep(self.sleep)

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        os.write(self.fd, f'{runner.iter + 1}\n'.encode())


def _kill_at(kill_at, state):
    """SIGKILL at the ``kill_at``-th step of the save of iter_8: each write
    of the file's bytes (killed half way), fsync, rename and removal."""

    def step():
        if state['active']:
            state['count'] += 1
            if state['count'] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    def wrap(fn):

        def wrapped(*args, **kwargs):
            step()
            return fn(*args, **kwargs)

        return wrapped

    put = LocalBackend.put

    def half_then_put(self, obj, filepath):
        if state['active'] and state['count'] + 1 == kill_at:
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
        step()
        put(self, obj, filepath)

    LocalBackend.put = half_then_put
    os.fsync, os.replace, os.remove = map(wrap,
                                          (os.fsync, os.replace, os.remove))


def main(work_dir, kill_at, sleep, fd):
    torch.set_num_threads(1)
    state = dict(active=False, count=0)
    if kill_at:
        _kill_at(kill_at, state)
    try:
        toy_runner(
            work_dir,
            8,
            checkpoint=SAFE,
            max_keep_ckpts=1,
            extra_hooks=[
                dict(type='PreemptionHook'),
                dict(type='NonFiniteLossHook'),
                _Report(fd, sleep, state)
            ],
            resume=True).train()
    except SystemExit as stop:
        return stop.code
    return 0


if __name__ == '__main__':
    work_dir, kill_at, sleep, fd = sys.argv[1:]
    sys.exit(main(work_dir, int(kill_at), float(sleep), int(fd)))
