"""Dataset configs behind dataset wrappers."""
from typing import Iterator


def leaf_datasets(dataset) -> Iterator[dict]:
    """The leaf dataset configs a dataset config builds, through wrappers
    (``ConcatDataset``'s ``datasets``; ``RepeatDataset``,
    ``ClassBalancedDataset``, ...'s ``dataset``). Nothing for a non-dict."""
    if not isinstance(dataset, dict):
        return
    if 'datasets' in dataset:
        for sub in dataset['datasets']:
            yield from leaf_datasets(sub)
    elif 'dataset' in dataset:
        yield from leaf_datasets(dataset['dataset'])
    else:
        yield dataset
