"""The state-dict keys and shapes of every official UniFormer model.

Recorded by instantiating the official model code (github Sense-X/UniFormer)
and shipped with the package, so that tools can check or imitate an official
file without the official code: ``dense_*`` detection / segmentation / pose
backbones, ``cls_*`` ImageNet classifiers, ``tl_*`` token-labeling
classifiers, ``light_*`` hourglass XXS / XS, ``video_*`` SlowFast video
models.
"""
import functools
import gzip
import json
import os.path as osp
from typing import Dict, List, Optional, Union

_TABLE = osp.join(osp.dirname(__file__), 'official_state_dict_keys.json.gz')


@functools.lru_cache(maxsize=None)
def _table() -> Dict[str, Dict[str, List[int]]]:
    with gzip.open(_TABLE, 'rt', encoding='utf-8') as f:
        table = json.load(f)
    table.pop('_about', None)
    return table


def official_state_dict_shapes(
    name: Optional[str] = None
) -> Union[Dict[str, List[int]], Dict[str, Dict[str, List[int]]]]:
    """Keys and shapes of the official model ``name`` (e.g. ``'cls_small'``,
    ``'video_base'``), or of every recorded model when ``name`` is None.

    The result is a fresh copy; callers may modify it.
    """
    table = _table()
    if name is None:
        return {k: dict(v) for k, v in table.items()}
    if name not in table:
        raise KeyError(f'no official model {name!r}; recorded: '
                       f'{", ".join(sorted(table))}')
    return dict(table[name])
