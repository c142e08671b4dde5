"""Faults injected into real training processes: SIGTERM (preemption) and
kill -9 at every point of a checkpoint save.

A child process (``preempted_training.py``) trains the 8-iteration toy job
of ``tests/toy_training.py`` with the hooks ``tools/train.py`` adds; the
parent resumes in-process and compares with an uninterrupted run bit for
bit.
"""
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from toy_training import toy_runner

from uniformer_mm.checkpoints.hooks import PREEMPTED_EXIT_STATUS
from uniformer_mm.checkpoints.workdir import find_resumable_checkpoint

SAFE = 'SafeCheckpointHook'

CHILD = Path(__file__).resolve().parent / 'preempted_training.py'


def _start(work_dir, kill_at=0, sleep=0.0):
    """(the child process, the read end of its iteration reports)."""
    read, write = os.pipe()
    child = subprocess.Popen([
        sys.executable,
        str(CHILD),
        str(work_dir),
        str(kill_at),
        str(sleep),
        str(write)
    ],
                             pass_fds=(write, ),
                             env=dict(os.environ, OMP_NUM_THREADS='1'))
    os.close(write)
    return child, os.fdopen(read)


@contextlib.contextmanager
def _one_thread():
    """One torch thread, as the child trains: bit-exact comparisons need
    the same reduction order in both processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def full_run(tmp_path_factory):
    runner = toy_runner(tmp_path_factory.mktemp('full'), 8, checkpoint=SAFE)
    with _one_thread():
        runner.train()
    return runner


def _resume_matches(work_dir, full_run):
    resumed = toy_runner(
        work_dir, 8, checkpoint=SAFE, max_keep_ckpts=1, resume=True)
    with _one_thread():
        resumed.train()
    for (name, a), b in zip(full_run.model.state_dict().items(),
                            resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name, rtol=0, atol=0)


@pytest.mark.slow
def test_sigterm_saves_the_iteration_in_flight(tmp_path, full_run):
    child, reports = _start(tmp_path, sleep=0.2)
    done = []
    for line in reports:
        done.append(int(line))
        if done[-1] == 5:  # iteration 6 is running (or about to)
            sent = time.monotonic()
            child.send_signal(signal.SIGTERM)
    status = child.wait()
    took = time.monotonic() - sent
    saved = int((tmp_path / 'last_checkpoint').read_text().rsplit('_',
                                                                  1)[1][:-4])
    lost = done[-1] - saved
    print(f'SIGTERM after iteration 5: exit {status} after {took:.2f} s, '
          f'iterations finished {done[-1]}, saved iter_{saved}, lost {lost}')
    assert status == PREEMPTED_EXIT_STATUS
    assert lost == 0 and saved >= 5
    _resume_matches(tmp_path, full_run)


@pytest.mark.slow
def test_kill_9_at_every_point_of_a_save(tmp_path, full_run):
    results = []
    for kill_at in range(1, 30):
        work_dir = tmp_path / f'kill{kill_at}'
        child, reports = _start(work_dir, kill_at)
        reports.read()
        status = child.wait()
        if status == 0:  # past the last step of the save
            break
        assert status == -signal.SIGKILL
        found = find_resumable_checkpoint(str(work_dir))
        assert found is not None
        results.append((kill_at, os.path.basename(found)))
        _resume_matches(work_dir, full_run)
        # the killed save's temporary file was cleaned up by the resume
        assert not list(work_dir.glob('.tmp-*'))
    print('kill point -> checkpoint resumed from:', results)
    # the file's bytes, its fsync and rename, last_checkpoint's, the removal
    assert len(results) >= 6


def test_all_ranks_agree_on_a_stop(tmp_path):
    """any_rank over a real 2-process gloo group: a flag raised on one rank
    (a signal, a NaN loss) stops both."""
    # two fresh interpreters (a fork of pytest can deadlock in OpenMP once
    # other tests have used its threads)
    code = (
        'import sys\n'
        'import torch.distributed as torch_dist\n'
        'from uniformer_mm.checkpoints.hooks import any_rank\n'
        'rank = int(sys.argv[1])\n'
        "torch_dist.init_process_group('gloo', init_method=sys.argv[2], "
        'rank=rank, world_size=2)\n'
        'seen = [any_rank(rank == 1), any_rank(False)]\n'
        '# os._exit: at interpreter exit gloo may abort (terminate called\n'
        '# without an active exception) once the peer has gone\n'
        'import os\n'
        'os._exit(0 if seen == [True, False] else 3)\n')
    ranks = [
        subprocess.Popen(
            [sys.executable, '-c', code,
             str(rank), f'file://{tmp_path}/store'],
            env=dict(os.environ, OMP_NUM_THREADS='1')) for rank in range(2)
    ]
    codes = [rank.wait(timeout=120) for rank in ranks]
    assert codes == [0, 0]


def _alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().split(')')[-1].split()[0] not in ('Z', 'X')
    except FileNotFoundError:
        return False


# The training process: a fresh interpreter (a fork of pytest can deadlock
# in OpenMP once other tests have used its threads). Its one data-loader
# worker reports its pid on stdout, then blocks as in a slow decode.
_TRAINING = """
import os, sys, time
import torch
from uniformer_mm.engine.workers import exit_forked_children_with_parent


class Blocking(torch.utils.data.Dataset):

    def __len__(self):
        return 4

    def __getitem__(self, i):
        print(os.getpid(), flush=True)
        time.sleep(60)


exit_forked_children_with_parent()
next(iter(torch.utils.data.DataLoader(Blocking(), num_workers=1)))
"""


@pytest.mark.skipif(
    not sys.platform.startswith('linux'), reason='prctl is Linux')
def test_data_loader_workers_die_with_the_main_process():
    main = subprocess.Popen([sys.executable, '-c', _TRAINING],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            text=True,
                            env=dict(os.environ, OMP_NUM_THREADS='1'))
    line = main.stdout.readline()
    if not line.strip():
        main.kill()
        pytest.fail(f'the training process failed: {main.stderr.read()}')
    worker = int(line)
    main.kill()  # SIGKILL: no cleanup of its own runs
    main.wait()
    deadline = time.monotonic() + 5
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    survived = _alive(worker)
    if survived:  # do not leave it behind
        os.kill(worker, signal.SIGKILL)
    assert not survived
