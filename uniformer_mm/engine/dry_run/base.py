"""What the parts of the dry run share: the error that names the failing
stage, the log of changes made to the config, and walks over a config."""
from typing import Callable, Iterator, List, Tuple

from mmengine.config import Config

from ...datasets.wrappers import leaf_datasets

STAGES = ('config', 'data', 'weights', 'train', 'resume', 'test')
LOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
EVALUATOR_KEYS = ('val_evaluator', 'test_evaluator')


class DryRunError(RuntimeError):
    """A stage of the dry run failed; ``stage`` names it."""

    def __init__(self, stage: str, reason: str):
        super().__init__(reason)
        self.stage = stage


class Changes:
    """Collects the changes made to the config and reports each once."""

    def __init__(self, report: Callable[[str], None]):
        self.items: List[str] = []
        self._report = report

    def __call__(self, message: str) -> None:
        self.items.append(message)
        self._report(f'change: {message}')


def walk(node, where: str = '') -> Iterator[Tuple[str, dict]]:
    """Every dict in a config tree, with its dotted location."""
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from walk(value, f'{where}.{key}' if where else key)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            yield from walk(value, f'{where}[{i}]')


def set_dataset_indices(cfg: Config, key: str, count: int) -> None:
    for dataset in leaf_datasets(cfg[key]['dataset']):
        dataset['indices'] = count
