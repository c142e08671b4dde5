"""The one walk over the data paths of a config: dataset configs (also
wrapped ones) and evaluators.

Every rewrite of data paths in the package goes through :func:`map_paths`:
``--data-root`` of ``tools/train.py`` / ``tools/test.py`` and the demo data
(:func:`rebase_paths`), and the dry run's stand-in root.
"""
import os.path as osp
from typing import Any, Callable

# keys whose string value is a data path; ``data_prefix`` values are too
PATH_KEYS = ('data_root', 'ann_file', 'bbox_file')
PREFIX_KEY = 'data_prefix'
CONFIG_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader',
               'val_evaluator', 'test_evaluator')


def map_paths(node: Any, fn: Callable[[str, str, dict], str]) -> Any:
    """Replace, in place, every data path under ``node`` by
    ``fn(path, key, owner)``: ``owner`` is the dict holding ``key`` (for a
    ``data_prefix`` entry, the dataset holding the prefix dict)."""
    if isinstance(node, dict):
        for key, value in list(node.items()):
            if key in PATH_KEYS and isinstance(value, str) and value:
                node[key] = fn(value, key, node)
            elif key == PREFIX_KEY and isinstance(value, dict):
                for name, path in list(value.items()):
                    if isinstance(path, str) and path:
                        value[name] = fn(path, f'{PREFIX_KEY}.{name}', node)
            else:
                map_paths(value, fn)
    elif isinstance(node, (list, tuple)):
        for item in node:
            map_paths(item, fn)
    return node


def rebase_paths(node: Any, old: str, new: str) -> Any:
    """Replace the prefix ``old`` of every data path under ``node`` by
    ``new`` (paths relative to a ``data_root`` do not start with it and
    stay as they are)."""
    old_dir = old.rstrip('/\\')
    new_dir = new.rstrip('/\\') or new

    def rebase(path, key, owner):
        if path == old or path.rstrip('/\\') == old_dir:
            # the root itself keeps its trailing separator, or lack of one
            return osp.join(new_dir, '') if path.endswith(('/', '\\')) \
                else new_dir
        if old_dir and path.startswith(old_dir + '/'):
            return osp.join(new_dir, path[len(old_dir) + 1:])
        return path

    return map_paths(node, rebase)


def set_data_root(cfg, data_root: str) -> None:
    """Move every data path of ``cfg`` (an mmengine ``Config``) that lives
    under its top-level ``data_root`` to ``data_root``: the datasets'
    roots, annotation files and prefixes, and the evaluators' ``ann_file``
    (computed from the old root when the config was parsed)."""
    old = cfg.get('data_root')
    if not old:
        raise KeyError(
            'the config has no top-level data_root, so there is no prefix '
            'to replace: set the dataset paths with --cfg-options instead')
    for key in CONFIG_KEYS:
        if cfg.get(key) is not None:
            rebase_paths(cfg[key], old, data_root)
    cfg.data_root = osp.join(data_root.rstrip('/\\'), '') \
        if old.endswith(('/', '\\')) else data_root.rstrip('/\\')
