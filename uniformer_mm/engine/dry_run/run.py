"""The stages of a dry run (see the package's docstring): config, data,
weights, train, resume, test."""
import copy
import os.path as osp
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from mmengine.config import Config
from mmengine.runner import find_latest_checkpoint

from ...checkpoints.loader import install_weights_only_loader
from ...compat.mmengine_format_once import format_each_config_once
from ...datasets.paths import set_data_root
from ..cli import add_reliability_hooks, build_runner
from .adapt import adapt_loaders, adapt_precision_and_norms, adapt_schedule
from .base import Changes, DryRunError, set_dataset_indices
from .own_data import check_own_data
from .small_inputs import shrink_inputs
from .standin_data import make_standin_data
from .standin_weights import standin_weights


@dataclass
class DryRunResult:
    """What a dry run did: ``ok``, the ``metrics`` of the test stage, every
    change made to the config, and on failure the stage and reason."""
    ok: bool
    metrics: Dict[str, float] = field(default_factory=dict)
    changes: List[str] = field(default_factory=list)
    stage: Optional[str] = None
    reason: Optional[str] = None
    checkpoint: Optional[str] = None

    def summary(self) -> str:
        """The one-line verdict the tool prints last."""
        if self.ok:
            shown = ' '.join(f'{k}={_fmt(v)}' for k, v in self.metrics.items())
            return f'dry-run ok: {shown}'.rstrip()
        return f'dry-run FAILED at {self.stage}: {self.reason}'


def _fmt(value) -> str:
    if isinstance(value, float):
        return f'{value:.4f}'
    return str(value)


def _prepare(config,
             work_dir: str,
             iters: int,
             small_inputs: bool,
             cfg_options: Optional[dict],
             change: Changes,
             data_root: Optional[str] = None) -> Tuple[Config, int, int]:
    """The config as the dry run runs it, its training batch size and its
    number of evaluation samples."""
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    cfg = copy.deepcopy(cfg)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if data_root:
        set_data_root(cfg, data_root)
    if cfg.get('default_scope') not in ('mmdet', 'mmseg', 'mmpose',
                                        'mmaction'):
        raise DryRunError(
            'config', 'default_scope must be one of mmdet, '
            f'mmseg, mmpose, mmaction; got '
            f'{cfg.get("default_scope")!r}')
    for key in ('train_dataloader', 'test_dataloader', 'train_cfg',
                'test_evaluator', 'optim_wrapper'):
        if not cfg.get(key):
            raise DryRunError('config', f'the config has no {key}')
    cfg.work_dir = work_dir
    cfg.launcher = 'none'
    cfg.load_from = cfg.get('load_from')
    cfg.resume = False
    # the hooks tools/train.py adds: the dry run saves, resumes and checks
    # the class counts as the real run will
    add_reliability_hooks(cfg)
    train_batch = min(cfg.train_dataloader.get('batch_size', 1), 2)
    adapt_loaders(cfg, train_batch, change)
    adapt_precision_and_norms(cfg, change)
    eval_samples = 1 if small_inputs else 2
    adapt_schedule(cfg, iters, train_batch, eval_samples, change)
    if small_inputs:
        shrink_inputs(cfg, change)
    return cfg, train_batch, eval_samples


def _runner_cfg(cfg: Config, phase: str) -> Config:
    run = copy.deepcopy(cfg)
    # one MMEngine experiment (logger, message hub, visualizer) per phase:
    # these are process-wide instances looked up by name, and the codebases'
    # runtimes name every visualizer 'visualizer', so a second runner in the
    # process would reuse the first one's (and its log folder)
    stem = osp.basename(osp.normpath(cfg.work_dir))
    run.experiment_name = f'{stem}_dry-run-{phase}_{uuid.uuid4().hex[:8]}'
    if run.get('visualizer'):
        run.visualizer.name = run.experiment_name
    return run


def _train(cfg: Config, stage: str, until: int,
           previous: Optional[str]) -> str:
    """Train a Runner of ``cfg`` and return the checkpoint it wrote, which
    must be new and taken at iteration ``until``."""
    runner = build_runner(cfg)
    runner.train()
    checkpoint = find_latest_checkpoint(cfg.work_dir)
    if runner.iter != until or checkpoint in (None, previous):
        raise DryRunError(
            stage, f'expected a new checkpoint at iteration {until}, got '
            f'iteration {runner.iter} and checkpoint {checkpoint}')
    return checkpoint


def dry_run(config,
            work_dir: str,
            standin_dir: Optional[str] = None,
            iters: int = 2,
            small_inputs: bool = False,
            cfg_options: Optional[dict] = None,
            report: Callable[[str], None] = print,
            own_data: bool = False,
            data_root: Optional[str] = None) -> DryRunResult:
    """Train, checkpoint, resume and test ``config`` on stand-in data.

    Args:
        config (str | Config): The config (file or loaded).
        work_dir (str): Logs and checkpoints of the run.
        standin_dir (str, optional): Where stand-in data and weights go;
            dry runs of several configs share what they can there. Defaults
            to ``<work_dir>/standin``.
        iters (int): Training iterations before the checkpoint. Defaults
            to 2.
        small_inputs (bool): CI mode: smaller sizes and fewer test clips
            (each reported). Defaults to False.
        cfg_options (dict, optional): Overrides merged into the config
            first, as ``--cfg-options``.
        report (callable): Receives every change made and every stage
            reached, one line each. Defaults to ``print``.
        own_data (bool): Run on the data set the config names instead of
            stand-in data: check its files and classes and pass its first
            samples through the pipelines. Defaults to False.
        data_root (str, optional): As ``tools/train.py --data-root``.

    Returns:
        DryRunResult: ``ok`` only when every stage ran.
    """
    if iters < 1:
        raise ValueError(f'iters must be >= 1, got {iters}')
    install_weights_only_loader()  # as our other tools do
    standin_dir = standin_dir or osp.join(work_dir, 'standin')
    change = Changes(report)
    result = DryRunResult(ok=False, changes=change.items)
    stage = 'config'
    with format_each_config_once():
        try:
            cfg, batch, samples = _prepare(config, work_dir, iters,
                                           small_inputs, cfg_options, change,
                                           data_root)
            stage = 'data'
            if own_data:
                check_own_data(cfg, batch * iters, report, change)
            else:
                make_standin_data(
                    cfg,
                    osp.join(standin_dir, 'data'),
                    train_samples=batch * iters,
                    eval_samples=samples,
                    change=change)
            stage = 'weights'
            standin_weights(cfg, osp.join(standin_dir, 'weights'), change)

            stage = 'train'
            report(f'stage train: {iters} iteration(s)')
            first = _train(_runner_cfg(cfg, 'train'), 'train', iters, None)

            stage = 'resume'
            report(f'stage resume: from {first}, one more iteration')
            resumed = _runner_cfg(cfg, 'resume')
            resumed.resume = True
            resumed.load_from = first
            # validation ran in the first stage; the test stage evaluates
            for key in ('val_dataloader', 'val_cfg', 'val_evaluator'):
                resumed[key] = None
            if 'max_iters' in resumed.train_cfg:
                resumed.train_cfg.max_iters = iters + 1
            else:
                resumed.train_cfg.max_epochs = 2
                set_dataset_indices(resumed, 'train_dataloader', batch)
            last = _train(resumed, 'resume', iters + 1, first)

            stage = 'test'
            report(f'stage test: {last}')
            tested = _runner_cfg(cfg, 'test')
            tested.load_from = last
            runner = build_runner(tested)
            metrics = runner.test()
            del runner
            result.metrics = {
                k: (float(v) if isinstance(v, (int, float)) else v)
                for k, v in (metrics or {}).items()
            }
            result.checkpoint = last
            result.ok = True
        except DryRunError as err:
            result.stage, result.reason = err.stage, str(err)
        except Exception as err:  # noqa: BLE001 -- report any failure by stage
            result.stage = stage
            first_line = str(err).strip().splitlines()[0] if str(err).strip() \
                else ''
            result.reason = f'{type(err).__name__}: {first_line}'.rstrip(': ')
            report(traceback.format_exc().rstrip())
    return result
