"""Every zoo config, end to end as users run it (``make test-zoo``).

``tools/dry_run.py``'s engine on each config under configs/{detection,
segmentation,pose,video} (the demo and custom folders aside): train,
checkpoint, resume, test with the config's own pipelines, evaluator and
hooks, on stand-in data in the config's real dataset layout shared by all
configs, in CI mode (smaller inputs, fewer test clips).
"""
import shutil

import pytest
from conftest import CONFIGS, zoo_configs

from uniformer_mm.engine.dry_run import dry_run

# a metric each codebase's evaluator reports
METRIC = {
    'detection': ('coco/bbox_mAP', 'coco/segm_mAP'),
    'segmentation': ('mIoU', ),
    'pose': ('coco/AP', ),
    'video': ('acc/top1', ),
}
# (test_zoo_configs.py checks that discovery finds the whole zoo)
ZOO = zoo_configs()


@pytest.fixture(scope='session')
def standin_dir(tmp_path_factory):
    """One stand-in data set per layout, shared by every config."""
    return str(tmp_path_factory.mktemp('standin'))


# One training iteration before the checkpoint: the resume stage's iteration
# still runs after an optimizer step and a reload, so every stage is covered,
# and the second iteration cost ~7 min of CI over the 71 configs.
ZOO_ITERS = 1


@pytest.mark.zoo
@pytest.mark.parametrize('config', ZOO)
def test_dry_run(config, standin_dir, tmp_path, record_property):
    lines = []
    work_dir = tmp_path / 'work'
    try:
        result = dry_run(
            str(CONFIGS / config),
            work_dir=str(work_dir),
            standin_dir=standin_dir,
            iters=ZOO_ITERS,
            small_inputs=True,
            report=lines.append)
    finally:
        # B-size checkpoints with optimizer state are ~1 GB each
        shutil.rmtree(work_dir, ignore_errors=True)
    # each config's verdict line in the CI log (tests/conftest.py prints it,
    # also for runs on pytest-xdist workers)
    record_property('verdict', f'{config}: {result.summary()}')
    assert result.ok, result.summary() + '\n' + '\n'.join(lines[-40:])
    task = config.split('/')[0]
    for metric in METRIC[task]:
        assert any(key.endswith(metric)
                   for key in result.metrics), (metric, result.metrics)
    assert any(c.startswith('datasets -> stand-in') for c in result.changes)
