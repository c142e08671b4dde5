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

``small_inputs=True`` (the zoo tests in CI, :mod:`.dry_run_ci`) also
shrinks image, crop and clip sizes and the number of test clips, each
reported as a change; a user's dry run keeps the config's own scales.
"""
import copy
import os
import os.path as osp
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict
from mmengine.runner import find_latest_checkpoint

from ..checkpoints.loader import install_weights_only_loader
from ..compat.mmengine_format_once import format_each_config_once
from ..datasets.paths import map_paths, set_data_root
from ..datasets.wrappers import leaf_datasets
from .cli import add_reliability_hooks, build_runner
from .dry_run_ci import shrink_inputs

STAGES = ('config', 'data', 'weights', 'train', 'resume', 'test')
# stand-in checkpoints are named so that nobody mistakes them for real ones
STANDIN_WEIGHTS_PREFIX = 'RANDOM-STANDIN_'
_LOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
_EVALUATOR_KEYS = ('val_evaluator', 'test_evaluator')
_CLASS_HEADS = ('cls_head', 'decode_head', 'head', 'bbox_head')


class DryRunError(RuntimeError):
    """A stage of the dry run failed; ``stage`` names it."""

    def __init__(self, stage: str, reason: str):
        super().__init__(reason)
        self.stage = stage


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


# ----------------------------------------------------------- config walks --
def _walk(node, where: str = '') -> Iterator[Tuple[str, dict]]:
    """Every dict in a config tree, with its dotted location."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _walk(value, f'{where}.{key}' if where else key)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _walk(value, f'{where}[{i}]')


def _set_dataset_indices(cfg: Config, key: str, count: int) -> None:
    for dataset in leaf_datasets(cfg[key]['dataset']):
        dataset['indices'] = count


# ------------------------------------------------------- CPU adaptations --
class _Changes:
    """Collects the changes made to the config and reports each once."""

    def __init__(self, report: Callable[[str], None]):
        self.items: List[str] = []
        self._report = report

    def __call__(self, message: str) -> None:
        self.items.append(message)
        self._report(f'change: {message}')


def _adapt_loaders(cfg: Config, train_batch: int, change: _Changes) -> None:
    for key in _LOADER_KEYS:
        loader = cfg.get(key)
        if not loader:
            continue
        batch = train_batch if key == 'train_dataloader' else 1
        if loader.get('batch_size', 1) > batch:
            change(f'{key}.batch_size {loader.batch_size} -> {batch}')
            loader.batch_size = batch
        if loader.get('num_workers', 0) or loader.get('persistent_workers'):
            change(f'{key}.num_workers {loader.get("num_workers", 0)} -> 0, '
                   'persistent_workers off (2-core CPU, few samples)')
            loader.num_workers = 0
            loader.persistent_workers = False


def _adapt_precision_and_norms(cfg: Config, change: _Changes) -> None:
    wrapper = cfg.get('optim_wrapper') or {}
    if wrapper.get('type') == 'AmpOptimWrapper' and \
            not torch.cuda.is_available():
        wrapper.type = 'OptimWrapper'
        for key in ('loss_scale', 'dtype', 'use_fsdp'):
            wrapper.pop(key, None)
        change('optim_wrapper AmpOptimWrapper -> OptimWrapper (fp32: AMP '
               'needs CUDA, this machine has none)')
    if not (torch.distributed.is_available()
            and torch.distributed.is_initialized()):
        synced = []
        for where, node in _walk(cfg.get('model'), 'model'):
            if node.get('type') in ('SyncBN', 'MMSyncBN'):
                node['type'] = 'BN'
                synced.append(where)
        if synced:
            change(f'SyncBN -> BN (no process group) in {", ".join(synced)}')


def _adapt_schedule(cfg: Config, iters: int, train_batch: int,
                    eval_samples: int, change: _Changes) -> None:
    """Train ``iters`` iterations and validate once at the end."""
    train_cfg = cfg.train_cfg
    loop = train_cfg.get('type', 'EpochBasedTrainLoop')
    hooks = cfg.default_hooks
    if 'Iter' in loop or 'max_iters' in train_cfg:
        from .schedule import set_iter_budget
        old = train_cfg.max_iters
        set_iter_budget(cfg, iters, val_interval=iters)
        hooks.checkpoint.interval = iters
        change(f'train_cfg.max_iters {old} -> {iters} (schedulers scaled), '
               f'validation and checkpoint after iteration {iters}')
    else:
        from .schedule import scale_schedule
        old = train_cfg.max_epochs
        scale_schedule(cfg, 1)
        train_cfg.val_begin = 1
        train_cfg.val_interval = 1
        hooks.checkpoint.interval = 1
        _set_dataset_indices(cfg, 'train_dataloader', train_batch * iters)
        change(f'train_cfg.max_epochs {old} -> 1 of {iters} iterations '
               '(schedulers scaled) '
               f'({train_batch * iters} samples), validation and checkpoint '
               'after it')
    if cfg.get('val_dataloader'):
        _set_dataset_indices(cfg, 'val_dataloader', eval_samples)
    _set_dataset_indices(cfg, 'test_dataloader', eval_samples)
    # random weights score every box below a detector's test threshold, and
    # COCO evaluation of no detections reports nothing at all
    for where, node in _walk(cfg.model.get('test_cfg'), 'model.test_cfg'):
        if node.get('score_thr'):
            change(f'{where}.score_thr {node["score_thr"]} -> 0 (random '
                   'weights score below it; the evaluator would get no '
                   'detections)')
            node['score_thr'] = 0.
    logger = hooks.get('logger')
    if logger is not None and logger.get('interval', 1) > 1:
        logger.interval = 1
        change('default_hooks.logger.interval -> 1 (log every iteration)')
    change(f'validation and test on {eval_samples} sample(s)')


# ------------------------------------------------------------ stand-ins --
def _standin_path(root: str, path: str) -> str:
    if '://' in path:
        raise DryRunError(
            'data', f'{path!r} is remote storage: a dry run '
            'only makes local stand-in data')
    return osp.join(root, path.lstrip('/\\'))


def _rebase_dataset(dataset: dict, root: str) -> None:
    """Point one leaf dataset or evaluator config at the stand-in root
    (paths resolved the way BaseDataset resolves them: relative to
    data_root when it is set; mmpose reads bbox_file as given)."""

    def standin(path, key, owner):
        if key in ('data_root', 'bbox_file') or osp.isabs(path) \
                or not owner.get('data_root'):
            return _standin_path(root, path)
        return path

    map_paths(dataset, standin)


def _num_classes(cfg: Config) -> Optional[int]:
    model = cfg.get('model') or {}
    for key in _CLASS_HEADS:
        head = model.get(key)
        if isinstance(head, dict) and isinstance(head.get('num_classes'), int):
            return head['num_classes']
    return None


def _make_standin_data(cfg: Config, root: str, train_samples: int,
                       eval_samples: int, change: _Changes) -> List[str]:
    from ..datasets.standin import make_standin_data
    scope = cfg.get('default_scope')
    num_classes = _num_classes(cfg) if scope == 'mmaction' else None
    written: List[str] = []
    seen = set()
    for key in _LOADER_KEYS:
        loader = cfg.get(key)
        if not loader:
            continue
        for dataset in leaf_datasets(loader.get('dataset')):
            _rebase_dataset(dataset, root)
            plain = dataset.to_dict() if isinstance(
                dataset, ConfigDict) else dict(dataset)
            plain.pop('pipeline', None)
            plain.pop('indices', None)
            ident = repr(sorted(plain.items(), key=lambda kv: kv[0]))
            if ident in seen:
                continue
            seen.add(ident)
            samples = train_samples if key == 'train_dataloader' else \
                eval_samples
            written += make_standin_data(
                plain,
                scope=scope,
                num_samples=samples,
                num_classes=num_classes)
    for key in _EVALUATOR_KEYS:
        if cfg.get(key):
            _rebase_dataset(cfg[key], root)
    change(f'datasets -> stand-in data under {root} (the config\'s own '
           'layout, generated)')
    return written


def _official_name(backbone: dict, checkpoint: str) -> Optional[str]:
    """The official model whose published file ``checkpoint`` stands for,
    as a key of :func:`official_state_dict_shapes`."""
    from ..checkpoints import official_state_dict_shapes
    from ..models.arch import (ARCH_ZOO_2D, ARCH_ZOO_3D, ARCH_ZOO_LIGHT_2D,
                               ARCH_ZOO_LIGHT_3D, preset_aliases)
    kind = backbone.get('type', '')
    arch = backbone.get('arch', 'small')
    if not isinstance(arch, str):
        return None
    light = kind.startswith('UniFormerLight')
    zoo = (ARCH_ZOO_LIGHT_3D if kind.endswith('3D') else ARCH_ZOO_LIGHT_2D) \
        if light else (ARCH_ZOO_3D if kind.endswith('3D') else ARCH_ZOO_2D)
    canonical = next((name for name, aliases in preset_aliases(zoo).items()
                      if arch == name or arch in aliases), None)
    if canonical is None:
        return None
    canonical = canonical.replace('-ls', '') if light else canonical
    stem = osp.basename(checkpoint).lower()
    video = kind.endswith('3D') and any(
        k in stem for k in ('k400', 'k600', 'k700', 'sth'))
    base = canonical.replace('-', '_')
    name = (f'video_{base}'
            if video else f'cls_light_{base}' if light else f'cls_{base}')
    return name if name in official_state_dict_shapes() else None


def _random_state_dict(shapes: Dict[str, List[int]],
                       seed: int) -> Dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in shapes.items():
        leaf = key.rsplit('.', 1)[-1]
        if leaf == 'num_batches_tracked':
            state[key] = torch.zeros(shape, dtype=torch.long)
        elif leaf in ('running_mean', 'bias') or (leaf == 'weight'
                                                  and len(shape) == 1):
            fill = 0. if leaf != 'weight' else 1.
            state[key] = torch.full(shape, fill)
        elif leaf == 'running_var':
            state[key] = torch.ones(shape)
        else:
            state[key] = torch.randn(shape, generator=gen) * 0.02
    return state


def _write_standin_weights(backbone: dict, checkpoint: str, path: str) -> str:
    """A random file in the official published layout of ``checkpoint``:
    ImageNet files hold the classifier under ``model``, the SlowFast video
    files the recognizer under ``model_state``."""
    from ..checkpoints import official_state_dict_shapes
    name = _official_name(backbone, checkpoint)
    if name is None:
        raise DryRunError(
            'weights', f'no official layout known for {checkpoint!r} '
            f'(backbone {backbone.get("type")} arch {backbone.get("arch")!r})'
            ': put the real file there, or pass --cfg-options '
            'model.backbone.init_cfg=None')
    shapes = official_state_dict_shapes(name)
    stem = osp.basename(checkpoint).lower()
    if name.startswith('video_') and 'k600' in stem:
        for key in ('head.weight', 'head.bias'):
            shapes[key] = [600] + shapes[key][1:]
    state = _random_state_dict(shapes, seed=len(shapes))
    payload = {
        'model_state': state
    } if name.startswith('video_') else {
        'model': state
    }
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = f'{path}.{uuid.uuid4().hex}.tmp'
    torch.save(payload, tmp)
    os.replace(tmp, path)  # whole or absent, when configs share the file
    return name


def _standin_weights(cfg: Config, root: str, change: _Changes) -> None:
    """Stand-in files for every Pretrained init_cfg and load_from that is
    not on disk; real files are used as they are."""
    backbone = (cfg.get('model') or {}).get('backbone') or {}
    for where, node in _walk(cfg.get('model'), 'model'):
        init_cfgs = node.get('init_cfg')
        for init in (init_cfgs
                     if isinstance(init_cfgs, list) else [init_cfgs]):
            if not (isinstance(init, dict) and init.get('type') == 'Pretrained'
                    and isinstance(init.get('checkpoint'), str)):
                continue
            real = init['checkpoint']
            if osp.isfile(osp.expanduser(real)):
                change(f'{where}.init_cfg: the real {real} is used')
                continue
            path = osp.join(root, STANDIN_WEIGHTS_PREFIX + osp.basename(real))
            owner = node if node.get('type', '').startswith('UniFormer') \
                else backbone
            if not osp.isfile(path):
                _write_standin_weights(owner, real, path)
            init['checkpoint'] = path
            change(f'{where}.init_cfg.checkpoint {real} -> {path} (random '
                   'weights in the official layout)')
    load_from = cfg.get('load_from')
    if load_from and '://' not in load_from:
        if osp.isfile(osp.expanduser(load_from)):
            change(f'load_from: the real {load_from} is used')
            return
        path = osp.join(root, STANDIN_WEIGHTS_PREFIX + osp.basename(load_from))
        base = _base_config(cfg) if cfg.get('runner_type') == \
            'FineTuneRunner' else None
        _write_standin_model(cfg if base is None else base, path)
        cfg.load_from = path
        if base is None:
            change(f'load_from {load_from} -> {path} (random weights of this '
                   'model, in the layout tools/train.py writes)')
        else:
            change(f'load_from {load_from} -> {path} (random weights of the '
                   f'_base_ model {osp.basename(base.filename)}, its class '
                   'count: the load_from lines of the train stage show the '
                   'class-specific tensors fine-tuning re-initialises)')


def _base_config(cfg: Config) -> Optional[Config]:
    """The config's first ``_base_`` (a fine-tuning template's zoo config,
    whose whole-model checkpoint ``load_from`` names), or None."""
    filename = getattr(cfg, 'filename', None)
    if not filename or not osp.isfile(filename):
        return None
    bases = Config._get_base_files(filename)
    if not bases:
        return None
    path, _ = Config._get_cfg_path(bases[0], filename)
    return Config.fromfile(path)


def _write_standin_model(cfg: Config, path: str) -> None:
    """A whole-model checkpoint (``state_dict`` + ``meta``, as MMEngine and
    tools/convert_official.py write) of the config's model, randomly
    initialised."""
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.default_scope)
    model = MODELS.build(copy.deepcopy(cfg.model))
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = f'{path}.{uuid.uuid4().hex}.tmp'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp)
    os.replace(tmp, path)


# ------------------------------------------------------------- own data --
def _coco_categories(dataset: dict) -> Optional[List[str]]:
    """The category names of a dataset config's COCO-format annotation
    file, None for other formats."""
    import json
    ann_file = dataset.get('ann_file')
    if not (isinstance(ann_file, str) and ann_file.endswith('.json')):
        return None
    if dataset.get('data_root') and not osp.isabs(ann_file):
        ann_file = osp.join(dataset['data_root'], ann_file)
    with open(ann_file) as f:
        categories = json.load(f).get('categories')
    return None if categories is None else [c['name'] for c in categories]


def _check_own_data(cfg: Config, samples: int, report: Callable[[str], None],
                    change: _Changes) -> None:
    """The user's own files: every path there, the classes against the
    annotations, and the first ``samples`` training samples through the
    train pipeline (the train stage then trains on them)."""
    from mmengine.registry import DATASETS, init_default_scope

    from .preflight import check_dataset_paths
    try:
        check_dataset_paths(cfg)
    except FileNotFoundError as err:
        raise DryRunError('data', str(err)) from None
    init_default_scope(cfg.default_scope)
    for key in _LOADER_KEYS:
        loader = cfg.get(key)
        if not loader:
            continue
        for leaf in leaf_datasets(loader.get('dataset')):
            plain = copy.deepcopy(
                leaf.to_dict() if isinstance(leaf, ConfigDict) else dict(leaf))
            plain.pop('indices', None)
            classes = list((plain.get('metainfo') or {}).get('classes') or [])
            # before building: a COCO set without the classes has no images
            names = _coco_categories(plain) if cfg.default_scope == \
                'mmdet' else None
            if names is not None and classes:
                absent = [c for c in classes if c not in names]
                unused = [n for n in names if n not in classes]
                if absent:
                    raise DryRunError(
                        'data', f'{key}: classes {absent} of the config are '
                        f'not categories of {plain["ann_file"]} (its '
                        f'categories: {names}): set classes to the category '
                        'names')
                if unused:
                    report(f'own data: {key}: categories {unused} of the '
                           'annotation file are not in classes: their '
                           'annotations are not used')
            dataset = DATASETS.build(plain)
            classes = list(dataset.metainfo.get('classes') or [])
            report(f'own data: {key.split("_")[0]}: {len(dataset)} samples, '
                   f'{len(classes)} classes {tuple(classes)} '
                   f'({type(dataset).__name__} under '
                   f'{plain.get("data_root") or plain.get("ann_file")})')
            if len(dataset) == 0:
                raise DryRunError(
                    'data', f'{key}: no samples in {plain.get("ann_file")} '
                    '(COCO: images without annotations are dropped by '
                    'filter_cfg.filter_empty_gt)')
            if key == 'train_dataloader':
                for index in range(min(samples, len(dataset))):
                    packed = dataset[index]
                    shape = tuple(packed['inputs'].shape) if hasattr(
                        packed.get('inputs'), 'shape') else '?'
                    report(f'own data: train sample {index} through the '
                           f'train pipeline: inputs {shape}')
    change('datasets: your own data as the config names it (train on the '
           'first samples, evaluate on the first)')


# --------------------------------------------------------------- stages --
def _prepare(config,
             work_dir: str,
             iters: int,
             small_inputs: bool,
             cfg_options: Optional[dict],
             change: _Changes,
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
    _adapt_loaders(cfg, train_batch, change)
    _adapt_precision_and_norms(cfg, change)
    eval_samples = 1 if small_inputs else 2
    _adapt_schedule(cfg, iters, train_batch, eval_samples, change)
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
    change = _Changes(report)
    result = DryRunResult(ok=False, changes=change.items)
    stage = 'config'
    with format_each_config_once():
        try:
            cfg, batch, samples = _prepare(config, work_dir, iters,
                                           small_inputs, cfg_options, change,
                                           data_root)
            stage = 'data'
            if own_data:
                _check_own_data(cfg, batch * iters, report, change)
            else:
                _make_standin_data(
                    cfg,
                    osp.join(standin_dir, 'data'),
                    train_samples=batch * iters,
                    eval_samples=samples,
                    change=change)
            stage = 'weights'
            _standin_weights(cfg, osp.join(standin_dir, 'weights'), change)

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
                _set_dataset_indices(resumed, 'train_dataloader', batch)
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
