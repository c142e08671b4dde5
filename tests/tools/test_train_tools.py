"""tools/train.py, tools/test.py, tools/dist_train.sh on the detection demo
config: distributed training over gloo on CPU, weights-only checkpoints."""
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import torch
from conftest import KillAfter, Killed
from mmengine.runner import Runner

from uniformer_mm.checkpoints import load_checkpoint_file

ROOT = Path(__file__).resolve().parents[2]
DET_DEMO = ROOT / 'configs/detection/demo/' \
    'mask-rcnn_uniformer-tiny_fpn_synthetic.py'
# a few images, a few iterations: this is about the tools, not learning
SMALL = [
    'synthetic_data.num_train=8',
    'synthetic_data.num_val=4',
    'train_cfg.max_iters=4',
    'train_cfg.val_interval=4',
    'default_hooks.checkpoint.interval=4',
    'train_dataloader.batch_size=2',
    'train_dataloader.num_workers=0',
    'val_dataloader.num_workers=0',
    'test_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.persistent_workers=False',
]


def _env():
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = str(ROOT) + os.pathsep + env.get('PYTHONPATH', '')
    return env


def _free_port() -> int:
    """A TCP port nothing listens on now (a fixed one may be taken)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_train_two_cpu_processes(tmp_path):
    work_dir = tmp_path / 'work'
    result = subprocess.run([
        'bash',
        str(ROOT / 'tools/dist_train.sh'),
        str(DET_DEMO), '2', '--work-dir',
        str(work_dir), '--cfg-options', *SMALL
    ],
                            cwd=tmp_path,
                            env=dict(_env(), PORT=str(_free_port())),
                            capture_output=True,
                            text=True,
                            timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]  # torchrun: every rank exited 0
    assert 'Distributed training: True' in log
    ckpt = load_checkpoint_file(work_dir / 'iter_4.pth')
    assert ckpt['meta']['iter'] == 4
    assert any(k.startswith('backbone.blocks3.') for k in ckpt['state_dict'])
    # the test tool evaluates that checkpoint with the real COCO metric
    result = subprocess.run([
        sys.executable,
        str(ROOT / 'tools/test.py'),
        str(DET_DEMO),
        str(work_dir / 'iter_4.pth'), '--work-dir',
        str(tmp_path / 'test'), '--show-dir', 'vis', '--cfg-options', *SMALL
    ],
                            cwd=tmp_path,
                            env=_env(),
                            capture_output=True,
                            text=True,
                            timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert 'coco/bbox_mAP' in result.stdout + result.stderr
    assert list((tmp_path / 'test').rglob('vis/*.jpg'))


def _demo_runner(work_dir, *extra, kill_after=None):
    sys.path.insert(0, str(ROOT / 'tools'))
    try:
        import train
    finally:
        sys.path.pop(0)
    args = train.parse_args([
        str(DET_DEMO), '--work-dir',
        str(work_dir), '--cfg-options', *SMALL,
        'default_hooks.checkpoint.interval=2', 'train_cfg.val_interval=100',
        'train_dataloader.num_workers=1', *extra
    ])
    cfg = train.build_config(args)
    cfg.experiment_name = uuid.uuid4().hex  # no MessageHub shared by runners
    from uniformer_mm.engine import prepare_embedded_data
    prepare_embedded_data(cfg)
    runner = Runner.from_cfg(cfg)
    if kill_after:
        runner.register_hook(KillAfter(kill_after))
    return runner


def test_resume_on_demo_config_matches_uninterrupted_run(
        tmp_path, monkeypatch):
    """Killed after iteration 2 and restarted with --resume, training ends
    with the same weights, optimizer state and LR as without interruption
    (random RoI sampling, flips and all)."""
    monkeypatch.chdir(tmp_path)
    full = _demo_runner(tmp_path / 'full')
    full.train()
    with pytest.raises(Killed):
        _demo_runner(tmp_path / 'cut', kill_after=2).train()
    assert (tmp_path / 'cut' / 'iter_2.pth').exists()
    assert not (tmp_path / 'cut' / 'iter_4.pth').exists()
    resumed = _demo_runner(tmp_path / 'cut', 'resume=True')
    resumed.train()
    assert resumed.iter == full.iter == 4
    for (name, a), b in zip(full.model.state_dict().items(),
                            resumed.model.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)
    assert resumed.optim_wrapper.get_lr() == full.optim_wrapper.get_lr()


@pytest.mark.parametrize('tool,positional,expected', [
    ('slurm_train.sh', ['cfg.py', 'work'],
     ['train.py', 'cfg.py', '--work-dir=work', '--amp', '--launcher=slurm']),
    ('slurm_test.sh', ['cfg.py', 'ckpt.pth'],
     ['test.py', 'cfg.py', 'ckpt.pth', '--amp', '--launcher=slurm']),
])
def test_slurm_scripts_launch_their_tool(tmp_path, tool, positional, expected):
    """Both SLURM scripts go through tools/slurm_run.sh; a stand-in srun
    records the command line it would run."""
    srun = tmp_path / 'srun'
    srun.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$@"\n')
    srun.chmod(0o755)
    env = dict(
        os.environ,
        PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}',
        GPUS='16',
        SRUN_ARGS='--quotatype=spot',
        PYTHON='py')
    result = subprocess.run([
        'bash',
        str(ROOT / 'tools' / tool), 'part', 'job', *positional, '--amp'
    ],
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    args = result.stdout.splitlines()
    assert args[:7] == [
        '-p', 'part', '--job-name=job', '--gres=gpu:8', '--ntasks=16',
        '--ntasks-per-node=8', '--cpus-per-task=5'
    ]
    assert '--quotatype=spot' in args
    py = args.index('py')
    assert args[py + 1] == '-u'
    assert Path(args[py + 2]).resolve() == ROOT / 'tools' / expected[0]
    assert args[py + 3:] == expected[1:]
    # too few arguments: usage, no srun
    result = subprocess.run(
        ['bash', str(ROOT / 'tools' / tool), 'part'],
        env=env,
        capture_output=True,
        text=True)
    assert result.returncode == 2 and 'usage' in result.stderr
    assert not result.stdout


@pytest.mark.parametrize('status,job_id,requeued', [(75, '42', True),
                                                    (75, '', False),
                                                    (1, '42', False)])
def test_slurm_train_requeues_a_preempted_job(tmp_path, status, job_id,
                                              requeued):
    """Exit status 75 (PreemptionHook saved a checkpoint) requeues the
    sbatch job; a crash (1) does not."""
    from uniformer_mm.checkpoints.hooks import PREEMPTED_EXIT_STATUS
    assert PREEMPTED_EXIT_STATUS == 75  # the value the script tests for
    (tmp_path / 'srun').write_text(f'#!/usr/bin/env bash\nexit {status}\n')
    (tmp_path / 'scontrol').write_text(
        f'#!/usr/bin/env bash\necho "$@" > {tmp_path}/scontrol.log\n')
    for name in ('srun', 'scontrol'):
        (tmp_path / name).chmod(0o755)
    env = dict(
        os.environ,
        PATH=f'{tmp_path}{os.pathsep}{os.environ["PATH"]}',
        SLURM_JOB_ID=job_id)
    result = subprocess.run([
        'bash',
        str(ROOT / 'tools' / 'slurm_train.sh'), 'part', 'job', 'cfg.py',
        'work', '--resume'
    ],
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=60)
    assert result.returncode == status
    log = tmp_path / 'scontrol.log'
    assert log.exists() == requeued
    if requeued:
        assert log.read_text().split() == ['requeue', '42']
