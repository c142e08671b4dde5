"""Checkpoints that survive faults: a failed save, a missing, garbled or
truncated checkpoint, preemption, a non-finite loss, a wrong checkpoint."""
import errno
import math
import os
import signal
import uuid
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from toy_training import toy_runner

from uniformer_mm.checkpoints import CheckpointMismatchError
from uniformer_mm.checkpoints.finetune import load_runner_checkpoint
from uniformer_mm.checkpoints.hooks import (PREEMPTED_EXIT_STATUS,
                                            NonFiniteLossError,
                                            NonFiniteLossHook,
                                            NonFiniteWeightsError,
                                            SafeCheckpointHook)
from uniformer_mm.checkpoints.io import load_checkpoint_file
from uniformer_mm.checkpoints.workdir import (NoResumableCheckpointError,
                                              find_resumable_checkpoint)

SAFE = 'SafeCheckpointHook'


def _assert_same_weights(a, b):
    for (name, x), y in zip(a.model.state_dict().items(),
                            b.model.state_dict().values()):
        torch.testing.assert_close(x, y, msg=name, rtol=0, atol=0)


@pytest.fixture(scope='module')
def full_run(tmp_path_factory):
    """An uninterrupted 8-iteration run (checkpoints at 4 and 8)."""
    runner = toy_runner(tmp_path_factory.mktemp('full'), 8, checkpoint=SAFE)
    runner.train()
    return runner


def _last(work_dir):
    return (work_dir / 'last_checkpoint').read_text()


def test_failed_save_keeps_the_earlier_checkpoint(tmp_path, monkeypatch,
                                                  capsys, full_run):
    put = LocalBackend.put

    def quota_hit(self, obj, filepath):
        if 'iter_8' in str(filepath):  # half written, then the quota
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
            raise OSError(errno.EFBIG, 'File too large')
        put(self, obj, filepath)

    monkeypatch.setattr(LocalBackend, 'put', quota_hit)
    with pytest.raises(OSError, match='File too large'):
        toy_runner(tmp_path, 8, checkpoint=SAFE, max_keep_ckpts=1).train()
    out = capsys.readouterr().out
    assert 'saving checkpoint' in out and 'iter_4.pth' in out
    # MMEngine had deleted iter_4 before writing iter_8 in place
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_4.pth']
    assert not list(tmp_path.glob('.tmp-*'))
    assert _last(tmp_path) == str(tmp_path / 'iter_4.pth')
    load_checkpoint_file(tmp_path / 'iter_4.pth')
    monkeypatch.setattr(LocalBackend, 'put', put)
    resumed = toy_runner(
        tmp_path, 8, checkpoint=SAFE, max_keep_ckpts=1, resume=True)
    resumed.train()
    _assert_same_weights(full_run, resumed)
    assert os.listdir(tmp_path).count('iter_4.pth') == 0  # rotated after


@pytest.fixture
def two_checkpoints(tmp_path, full_run):
    """A copy of the full run's work dir: iter_4, iter_8, last_checkpoint."""
    src = full_run.work_dir
    for name in ('iter_4.pth', 'iter_8.pth'):
        (tmp_path / name).write_bytes(
            open(os.path.join(src, name), 'rb').read())
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_8.pth'))
    return tmp_path


@pytest.mark.parametrize('last', [None, b'', b'\xff\xfe\x00garbled'])
def test_resume_without_a_valid_last_checkpoint(two_checkpoints, last, capsys):
    path = two_checkpoints / 'last_checkpoint'
    if last is None:
        path.unlink()
    else:
        path.write_bytes(last)
    logger = MMLogger.get_instance(uuid.uuid4().hex)  # logs to capsys
    assert find_resumable_checkpoint(str(two_checkpoints), logger) == str(
        two_checkpoints / 'iter_8.pth')
    out = capsys.readouterr().out
    if last is not None:  # named as such
        assert 'last_checkpoint' in out and (
            'empty' in out if last == b'' else 'garbled' in out
            or 'not an existing file' in out or 'unreadable' in out)


def test_truncated_newest_checkpoint_falls_back(two_checkpoints, capsys,
                                                full_run):
    newest = two_checkpoints / 'iter_8.pth'
    newest.write_bytes(newest.read_bytes()[:1000])
    resumed = toy_runner(two_checkpoints, 8, checkpoint=SAFE, resume=True)
    resumed.train()  # resumes at 4 and trains 5..8 again
    out = capsys.readouterr().out
    assert f'skipping unreadable checkpoint {newest}' in out
    _assert_same_weights(full_run, resumed)


def test_unreadable_checkpoints_stop_instead_of_starting_afresh(
        two_checkpoints):
    for name in ('iter_4.pth', 'iter_8.pth'):
        (two_checkpoints / name).write_bytes(b'not a checkpoint')
    with pytest.raises(NoResumableCheckpointError) as error:
        toy_runner(two_checkpoints, 8, checkpoint=SAFE, resume=True).train()
    assert 'iter_4.pth' in str(error.value) and 'iter_8.pth' in str(
        error.value)
    assert (two_checkpoints / 'iter_8.pth').read_bytes() == \
        b'not a checkpoint'  # nothing overwritten


def test_resume_of_another_model_names_the_tensors(two_checkpoints):
    resumed = toy_runner(two_checkpoints, 8, checkpoint=SAFE, resume=True)
    resumed.model.net[4] = nn.Linear(8, 2)  # another head than the file's
    with pytest.raises(CheckpointMismatchError) as error:
        resumed.train()
    message = str(error.value)
    assert f'cannot resume from {two_checkpoints / "iter_8.pth"}' in message
    assert 'net.4.weight (1, 8) in the file, (2, 8) here' in message
    assert 'net.4.bias (1,) in the file, (2,) here' in message


def test_resume_with_other_param_groups_names_them(two_checkpoints):
    resumed = toy_runner(two_checkpoints, 8, checkpoint=SAFE, resume=True)
    # another paramwise rule: one group per parameter instead of one
    resumed.optim_wrapper = dict(
        optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4),
        paramwise_cfg=dict(bias_decay_mult=0.))
    with pytest.raises(CheckpointMismatchError) as error:
        resumed.train()
    # six parameters: two linear layers and a BatchNorm
    assert ('optimizer parameter groups: 1 in the file (sizes [6]), 6 built '
            'here (sizes [1, 1, 1, 1, 1, 1])') in str(error.value)


def test_empty_work_dir_starts_from_scratch(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None


class _SignalAt(Hook):
    """Sends the process ``signum`` during iteration ``at`` (1-based)."""
    priority = 'HIGHEST'

    def __init__(self, at, signum):
        self.at, self.signum = at, signum

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at:
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize('signum', [signal.SIGTERM, signal.SIGUSR1])
def test_preemption_saves_the_current_iteration(tmp_path, signum, capsys,
                                                full_run):
    handlers = {
        s: signal.getsignal(s)
        for s in (signal.SIGTERM, signal.SIGUSR1)
    }
    try:
        with pytest.raises(SystemExit) as stop:
            toy_runner(
                tmp_path,
                8,
                checkpoint=SAFE,
                extra_hooks=[
                    dict(type='PreemptionHook'),
                    _SignalAt(6, signum)
                ]).train()
    finally:
        for s, handler in handlers.items():
            signal.signal(s, handler)
    assert stop.value.code == PREEMPTED_EXIT_STATUS
    # no iteration lost: the one running at the signal is saved
    assert _last(tmp_path) == str(tmp_path / 'iter_6.pth')
    assert 'preempted' in capsys.readouterr().out
    resumed = toy_runner(tmp_path, 8, checkpoint=SAFE, resume=True)
    resumed.train()
    _assert_same_weights(full_run, resumed)


def test_nan_loss_stops_at_its_iteration(tmp_path):
    runner = toy_runner(
        tmp_path,
        8,
        checkpoint=SAFE,
        lr=1e12,
        extra_hooks=[dict(type='NonFiniteLossHook')])
    with pytest.raises(NonFiniteLossError) as error:
        runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    first = next(i for i, v in enumerate(losses) if not math.isfinite(v))
    assert first == len(losses) - 1  # stopped at the first one
    assert f'iteration {first + 1}:' in str(error.value)
    assert 'loss=' in str(error.value)
    assert not list(tmp_path.glob('*.pth'))  # nothing saved


def _faketoy_runner(model, it=0):
    return SimpleNamespace(
        model=model, iter=it, logger=MMLogger.get_current_instance())


def test_skipped_steps_are_allowed_up_to_the_limit():
    hook = NonFiniteLossHook(max_skipped_steps=2)
    runner = _faketoy_runner(nn.Linear(2, 2))  # finite weights: step skipped
    nan = dict(loss=torch.tensor(float('nan')), loss_cls=torch.tensor(1.))
    hook.after_train_iter(runner, 0, outputs=nan)
    hook.after_train_iter(runner, 1, outputs=nan)
    with pytest.raises(NonFiniteLossError, match=r'loss=nan'):
        hook.after_train_iter(runner, 2, outputs=nan)
    hook = NonFiniteLossHook(max_skipped_steps=2)
    hook.after_train_iter(runner, 0, outputs=nan)
    hook.after_train_iter(runner, 1, outputs=dict(loss=torch.tensor(1.)))
    hook.after_train_iter(runner, 2, outputs=nan)  # count restarted


def test_non_finite_weights_are_never_saved(tmp_path):
    model = nn.Linear(2, 2)
    with torch.no_grad():
        model.weight[0, 0] = float('inf')
    hook = SafeCheckpointHook(interval=1, out_dir=str(tmp_path))
    with pytest.raises(NonFiniteWeightsError, match='weight'):
        hook._save_checkpoint_with_step(_faketoy_runner(model), 1, {})
    assert not os.listdir(tmp_path)


class _Other(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)


def test_wrong_checkpoint_is_refused_for_testing_and_load_from(tmp_path):
    path = str(tmp_path / 'other.pth')
    torch.save({'state_dict': _Other().state_dict()}, path)
    runner = toy_runner(tmp_path / 'test', 8, checkpoint=SAFE)
    with pytest.raises(CheckpointMismatchError) as error:
        load_runner_checkpoint(runner, path)
    assert 'conv.weight' in str(error.value)
    assert 'net.0.weight' in str(error.value)
    with pytest.raises(CheckpointMismatchError, match='fills only 0 of'):
        toy_runner(
            tmp_path / 'train', 8, checkpoint=SAFE, load_from=path).train()


@pytest.mark.slow
def test_test_tool_refuses_another_models_checkpoint(tmp_path):
    """tools/test.py stops before evaluating a checkpoint that does not fit
    (it used to print the mismatch and report a metric)."""
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    sys.path.insert(0, str(root / 'tools'))
    try:
        import test as test_tool
    finally:
        sys.path.pop(0)
    path = str(tmp_path / 'other.pth')
    torch.save({'state_dict': _Other().state_dict()}, path)
    config = str(root / 'configs/segmentation/demo/'
                 'fpn_uniformer-tiny_synthetic.py')
    args = [config, path, '--work-dir', str(tmp_path / 'work')]
    with pytest.raises(CheckpointMismatchError) as error:
        test_tool.main(args)
    message = str(error.value)
    assert 'conv.weight' in message and 'backbone.' in message
    assert test_tool.parse_args(
        args + ['--allow-partial-checkpoint']).allow_partial_checkpoint


def test_resume_in_a_fresh_work_dir_keeps_load_from(tmp_path, full_run):
    """The first run of a requeued fine-tuning job (``--resume`` with the
    config's load_from) starts from load_from, not from scratch."""
    weights = os.path.join(full_run.work_dir, 'iter_8.pth')
    runner = toy_runner(
        tmp_path,
        8,
        checkpoint=SAFE,
        resume=True,
        cfg=dict(load_from_if_no_checkpoint=weights))
    runner.call_hook('before_run')
    runner.load_or_resume()
    assert runner.iter == 0  # loaded, not resumed
    _assert_same_weights(full_run, runner)
