"""A dry run on the user's own data set (``--own-data``): its files, its
classes against the annotations, and its first samples through the train
pipeline."""
import copy
import os.path as osp
from typing import Callable, List, Optional

from mmengine.config import Config, ConfigDict

from ...datasets.wrappers import leaf_datasets
from .base import LOADER_KEYS, Changes, DryRunError


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


def check_own_data(cfg: Config, samples: int, report: Callable[[str], None],
                   change: Changes) -> None:
    """The user's own files: every path there, the classes against the
    annotations, and the first ``samples`` training samples through the
    train pipeline (the train stage then trains on them)."""
    from mmengine.registry import DATASETS, init_default_scope

    from ..preflight import check_dataset_paths
    try:
        check_dataset_paths(cfg)
    except FileNotFoundError as err:
        raise DryRunError('data', str(err)) from None
    init_default_scope(cfg.default_scope)
    for key in LOADER_KEYS:
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
