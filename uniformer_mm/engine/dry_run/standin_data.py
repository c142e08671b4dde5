"""Stand-in data for a dry run: the config's own dataset layout, generated
under a stand-in root (never over real data), and the config pointed at
it."""
import os.path as osp
from typing import List, Optional

from mmengine.config import Config, ConfigDict

from ...datasets.paths import map_paths
from ...datasets.wrappers import leaf_datasets
from .base import EVALUATOR_KEYS, LOADER_KEYS, Changes, DryRunError

CLASS_HEADS = ('cls_head', 'decode_head', 'head', 'bbox_head')


def _standin_path(root: str, path: str) -> str:
    if '://' in path:
        raise DryRunError(
            'data', f'{path!r} is remote storage: a dry run '
            'only makes local stand-in data')
    return osp.join(root, path.lstrip('/\\'))


def rebase_dataset(dataset: dict, root: str) -> None:
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
    for key in CLASS_HEADS:
        head = model.get(key)
        if isinstance(head, dict) and isinstance(head.get('num_classes'), int):
            return head['num_classes']
    return None


def make_standin_data(cfg: Config, root: str, train_samples: int,
                      eval_samples: int, change: Changes) -> List[str]:
    from ...datasets.standin import make_standin_data as generate
    scope = cfg.get('default_scope')
    num_classes = _num_classes(cfg) if scope == 'mmaction' else None
    written: List[str] = []
    seen = set()
    for key in LOADER_KEYS:
        loader = cfg.get(key)
        if not loader:
            continue
        for dataset in leaf_datasets(loader.get('dataset')):
            rebase_dataset(dataset, root)
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
            written += generate(
                plain,
                scope=scope,
                num_samples=samples,
                num_classes=num_classes)
    for key in EVALUATOR_KEYS:
        if cfg.get(key):
            rebase_dataset(cfg[key], root)
    change(f'datasets -> stand-in data under {root} (the config\'s own '
           'layout, generated)')
    return written
