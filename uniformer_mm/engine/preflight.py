"""What tools/train.py and tools/test.py do before a Runner is built: make
the embedded demo data, and name missing files with what to do about them."""
import os
import os.path as osp
import time
from typing import List

from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from ..datasets.wrappers import leaf_datasets

_PREFIX_KEYS = ('img', 'img_path', 'seg_map_path', 'video', 'ann')
SPLITS = ('train', 'val', 'test')


def missing_dataset_paths(cfg: Config, splits=SPLITS) -> List[str]:
    """Annotation files and data folders the config's dataloaders need but
    that do not exist (local paths only)."""
    missing = []
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        for dataset in leaf_datasets(loader.get('dataset')):
            root = dataset.get('data_root') or ''
            if '://' in root:
                continue  # remote storage: nothing to check here
            ann_file = dataset.get('ann_file')
            paths = [ann_file] if ann_file else []
            prefix = dataset.get('data_prefix') or {}
            paths += [prefix[k] for k in _PREFIX_KEYS if prefix.get(k)]
            for path in paths:
                full = osp.join(root, path)
                if not osp.exists(full):
                    missing.append(f'{split}: {full}')
        # the evaluator reads its own annotation file, computed from the
        # data root when the config was parsed
        evaluators = cfg.get(f'{split}_evaluator') if split != 'train' \
            else None
        for evaluator in (evaluators if isinstance(evaluators,
                                                   (list,
                                                    tuple)) else [evaluators]):
            ann_file = (evaluator or {}).get('ann_file')
            if isinstance(ann_file, str) and '://' not in ann_file and \
                    not osp.exists(ann_file):
                missing.append(f'{split}_evaluator.ann_file: {ann_file}')
    return missing


def check_dataset_paths(cfg: Config, splits=SPLITS) -> None:
    """Raise ``FileNotFoundError`` naming every missing dataset path."""
    missing = missing_dataset_paths(cfg, splits)
    if missing:
        raise FileNotFoundError(
            'The config points at dataset files that do not exist:\n  ' +
            '\n  '.join(missing) + '\nPrepare the dataset there (see the '
            "README of the config's folder for the expected layout), or "
            'point the config at it: ' + _data_root_advice(cfg))


def _data_root_advice(cfg: Config) -> str:
    """The switch that moves every path, the evaluators' included."""
    if cfg.get('data_root'):
        return (f'--data-root PATH (replaces data_root '
                f'{cfg.data_root!r} in every dataset path and in the '
                "evaluators' ann_file), or data_root = 'PATH' in the config")
    return ('this config has no top-level data_root for --data-root to '
            'replace, so set each dataset and evaluator: --cfg-options ' +
            ' '.join(f'{split}_dataloader.{_dataset_key(cfg, split)}'
                     '.data_root=PATH' for split in SPLITS) +
            ' and, where they read one, val_evaluator.ann_file=PATH/... '
            'test_evaluator.ann_file=PATH/...')


def _dataset_key(cfg: Config, split: str) -> str:
    """Where the split's dataset options go: ``dataset``, or
    ``dataset.dataset`` inside a one-dataset wrapper (the video training
    sets' ``RepeatAugVideoDataset``)."""
    key, node = 'dataset', (cfg.get(f'{split}_dataloader')
                            or {}).get('dataset')
    while isinstance(node, dict) and isinstance(node.get('dataset'), dict):
        key, node = f'{key}.dataset', node['dataset']
    return key


def _pretrained_paths(node, where: str):
    if isinstance(node, dict):
        init_cfgs = node.get('init_cfg')
        for init in (init_cfgs
                     if isinstance(init_cfgs, list) else [init_cfgs]):
            if isinstance(init, dict) and init.get('type') == 'Pretrained':
                yield f'{where}.init_cfg.checkpoint', init.get('checkpoint')
        for key, value in node.items():
            if key != 'init_cfg':
                yield from _pretrained_paths(value, f'{where}.{key}')
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from _pretrained_paths(value, f'{where}[{i}]')


def check_checkpoint_paths(cfg: Config) -> None:
    """Raise ``FileNotFoundError`` for missing local checkpoint files named by
    ``Pretrained`` init configs or ``load_from``, before anything is built."""
    entries = list(_pretrained_paths(cfg.get('model'), 'model'))
    if cfg.get('load_from'):
        entries.append(('load_from', cfg.load_from))
    missing = [(key, path) for key, path in entries if isinstance(path, str)
               and '://' not in path and not osp.isfile(osp.expanduser(path))]
    if missing:
        raise FileNotFoundError(
            'The config points at checkpoint files that do not exist:\n' +
            '\n'.join(
                _checkpoint_advice(cfg, key, path) for key, path in missing))


def _checkpoint_advice(cfg: Config, key: str, path: str) -> str:
    """What the missing file is and the switches that work without it."""
    if key == 'load_from':
        backbone = ((cfg.get('model') or {}).get('backbone') or {})
        init = backbone.get('init_cfg')
        after = (f'the backbone then starts from {init["checkpoint"]!r} '
                 '(model.backbone.init_cfg)'
                 if isinstance(init, dict) and init.get('checkpoint') else
                 'the whole model then starts from random weights')
        return (f'  load_from = {path!r}: a whole-model checkpoint (backbone, '
                'neck and heads) of the zoo config, e.g. an official file '
                'converted by tools/convert_official.py OFFICIAL.pth '
                f'{path} --config ZOO_CONFIG (docs/en/finetune.md).\n'
                '  Without it: --cfg-options load_from=None '
                f'({after}); a fine-tuning template picks its starting point '
                "with start_from at its top (the zoo model, 'imagenet' or "
                "'scratch').")
    return (f'  {key} = {path!r}: backbone weights (the official ImageNet '
            'file, docs/en/checkpoints.md; docs/en/finetune.md "Starting '
            'points").\n'
            f'  Put it there, or --cfg-options {key}=PATH, or '
            f'--cfg-options {key.rsplit(".", 1)[0]}=None to start the '
            'backbone from random weights.')


def prepare_embedded_data(cfg: Config,
                          splits=SPLITS,
                          timeout: float = 900) -> None:
    """Demo configs (``synthetic_data = dict(...)``) run on data generated
    on first use: local rank 0 generates it, other ranks wait for it."""
    if cfg.get('synthetic_data') is None:
        return
    if int(os.environ.get('LOCAL_RANK', '0')) == 0:
        from ..datasets import prepare_synthetic_data
        prepare_synthetic_data(cfg)
        return
    deadline = time.time() + timeout
    while missing_dataset_paths(cfg, splits) and time.time() < deadline:
        time.sleep(1)  # afterwards check_dataset_paths names what is missing


class ClassCountMismatchError(ValueError):
    """The dataset's classes (keypoints, labels) do not match a head."""


def _head_counts(model) -> List[tuple]:
    """``(config key, count)`` of every head's class (keypoint) count; the
    class-agnostic RPN is not one."""
    counts = []
    for name, module in model.named_modules():
        if not name or 'rpn' in name or not type(module).__name__.endswith(
                'Head'):
            continue
        count = getattr(module, 'num_classes', None)
        key = 'num_classes'
        if not isinstance(count, int) and name == 'head':
            # MMPose heatmap heads: one output channel per keypoint
            count, key = getattr(module, 'out_channels', None), \
                'out_channels'
        if isinstance(count, int) and not isinstance(count, bool):
            counts.append((f'model.{name}.{key}', count, key))
    return counts


def _dataset_count(dataset) -> tuple:
    """``(count, what, config key)`` the dataset needs of a head, or
    None when it does not say."""
    meta = getattr(dataset, 'metainfo', None) or {}
    if meta.get('num_keypoints'):
        return (int(meta['num_keypoints']), 'keypoints',
                'train_dataloader.dataset.metainfo')
    if meta.get('classes'):
        return (len(meta['classes']), 'classes',
                'train_dataloader.dataset.metainfo.classes')
    labels = []
    for info in getattr(dataset, 'data_list', None) or []:
        label = info.get('label') if isinstance(info, dict) else None
        if isinstance(label, int):
            labels.append(label)
        elif isinstance(label, (list, tuple)):
            labels.extend(int(v) for v in label)
    if labels:  # video lists: labels 0 .. max
        return (max(labels) + 1, 'labels (largest label + 1)',
                'train_dataloader.dataset.ann_file')
    return None


def check_class_counts(model, dataset) -> None:
    """Before the first iteration: the dataset's class, keypoint or label
    count against every head's ``num_classes`` / ``out_channels``.

    Raises:
        ClassCountMismatchError: naming both numbers and the key to change.
    """
    needed = _dataset_count(dataset)
    if needed is None:
        return
    count, what, data_key = needed
    problems = []
    for key, head_count, attr in _head_counts(model):
        if attr == 'out_channels' and what != 'keypoints':
            continue
        if what == 'keypoints' and attr != 'out_channels':
            continue
        labels_only = what.startswith('labels')
        if head_count == count or (labels_only and head_count > count):
            continue  # a label list need not use every class
        problems.append(f'{key} = {head_count}')
    if problems:
        keys = ' and '.join(p.split(' =')[0] for p in problems)
        raise ClassCountMismatchError(
            f'the training data has {count} {what} ({data_key}) but '
            f'{", ".join(problems)}: set {keys} = {count} (or fix the '
            "data set's classes)")


class ClassCountCheckHook(Hook):
    """Runs :func:`check_class_counts` on the training data set and the
    model before the first iteration (``tools/train.py`` adds it)."""

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        check_class_counts(model, runner.train_dataloader.dataset)
