"""Reading checkpoint files without trusting them.

A checkpoint is a pickle, and unpickling can run arbitrary code. Every file
is therefore read with ``torch.load(weights_only=True)`` plus the narrowest
allowlist the published UniFormer layouts need:

* ``argparse.Namespace``: the DeiT/timm-style ImageNet files store their
  training arguments under ``args``. Its unpickling only sets attributes.

Nothing else is allowed, and trust is never switched off globally. A file
that needs more (for example MMEngine 0.10 training checkpoints, which pickle
numpy arrays and ``getattr``) is refused with an error naming the types and
the command that turns a file the user trusts into a weights-only one
(:func:`to_weights_only`, ``tools/checkpoint/strip_checkpoint.py``).
"""
import argparse
import os
import pickle
import re
import struct
import zipfile
from collections import OrderedDict
from typing import Any, List, Optional, Tuple

import numpy as np
import torch

THIRD_PARTY_SAFE_GLOBALS = (argparse.Namespace, )

STRIP_COMMAND = ('python tools/checkpoint/strip_checkpoint.py {path} '
                 'OUT.pth --trust-source')


class CheckpointRefusedError(RuntimeError):
    """A checkpoint needs unpickling beyond the weights-only allowlist."""


def _unsafe_globals(path: str, error: Exception) -> List[str]:
    allowed = {
        f'{t.__module__}.{t.__qualname__}'
        for t in THIRD_PARTY_SAFE_GLOBALS
    }
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception:  # legacy (non-zip) files: fall back to the message
        names = re.findall(r'GLOBAL (\S+)', str(error))
    return sorted(set(names) - allowed) or ['<unknown>']


def load_checkpoint_file(path: str, map_location: Any = 'cpu') -> Any:
    """Load a checkpoint file with ``weights_only=True`` and our allowlist.

    Args:
        path (str | PathLike): The file.
        map_location: As in :func:`torch.load`. Defaults to ``'cpu'``.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        CheckpointRefusedError: the file needs types outside the allowlist.
        ValueError: the file is not a PyTorch checkpoint.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f'Checkpoint file {path!r} does not exist. Put the file there '
            '(official weights: README section "Pretrained weights") or '
            'point the config at the right path, e.g. --cfg-options '
            'model.backbone.init_cfg.checkpoint=PATH (pretrained backbone), '
            'load_from=PATH, or --resume PATH.')
    try:
        with torch.serialization.safe_globals(list(THIRD_PARTY_SAFE_GLOBALS)):
            return torch.load(
                path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if 'GLOBAL' not in str(error):  # not a pickle of a checkpoint at all
            raise ValueError(f'{path!r} is not a PyTorch checkpoint: '
                             f'{error}') from None
        names = _unsafe_globals(path, error)
        raise CheckpointRefusedError(
            f'Refusing to unpickle {path!r}: it contains {names}, which a '
            'weights-only load does not allow (unpickling can run code). If '
            'you trust where the file comes from, convert it once into a '
            'weights-only file and use that instead:\n    ' +
            STRIP_COMMAND.format(path=path)) from None
    except (RuntimeError, KeyError, IndexError, EOFError, struct.error,
            zipfile.BadZipFile, UnicodeDecodeError) as error:
        # what torch's unpicklers raise on bytes that are not a pickle
        raise ValueError(f'{path!r} is not a readable PyTorch checkpoint '
                         f'({type(error).__name__}: {error})') from None


_PLAIN = (str, int, float, bool, type(None), torch.Tensor)
_HISTORY_BUFFER = '__mmengine_history_buffer__'


def to_weights_only(obj: Any, where: str = '') -> Tuple[Any, List[str]]:
    """Rebuild ``obj`` from types a weights-only load accepts.

    Containers, tensors, numbers and strings are kept; numpy scalars become
    Python numbers, numpy arrays tensors, ``argparse.Namespace`` a dict, and
    MMEngine's ``HistoryBuffer`` (the message hub's logged scalars) a tagged
    dict that :func:`restore_history_buffers` turns back into one. Anything
    else is dropped.

    Returns:
        tuple: the rebuilt object and the dotted paths that were dropped.
    """
    from mmengine.logging import HistoryBuffer
    dropped: List[str] = []

    def visit(value, path):
        # before _PLAIN: np.float64 is a float
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, _PLAIN):
            return value
        if isinstance(value, np.ndarray):
            if value.dtype == object:
                dropped.append(path)
                return None
            return torch.from_numpy(value.copy())
        if isinstance(value, HistoryBuffer):
            logs, counts = value.data
            return {
                _HISTORY_BUFFER: True,
                'log_history': torch.from_numpy(np.asarray(logs).copy()),
                'count_history': torch.from_numpy(np.asarray(counts).copy()),
                'max_length': value.max_length,
            }
        if isinstance(value, argparse.Namespace):
            value = vars(value)
        if isinstance(value, dict):
            out = OrderedDict() if isinstance(value, OrderedDict) else {}
            for key, item in value.items():
                if not isinstance(key, (str, int)):
                    dropped.append(f'{path}.{key!r}')
                    continue
                new = visit(item, f'{path}.{key}' if path else str(key))
                if new is not None or item is None:
                    out[key] = new
            return out
        if isinstance(value, (list, tuple)):
            items = [visit(v, f'{path}[{i}]') for i, v in enumerate(value)]
            return type(value)(items) if isinstance(value,
                                                    list) else tuple(items)
        dropped.append(f'{path} ({type(value).__module__}.'
                       f'{type(value).__qualname__})')
        return None

    return visit(obj, where), dropped


def restore_history_buffers(checkpoint: Any) -> None:
    """Turn the tagged dicts of :func:`to_weights_only` back into
    ``HistoryBuffer`` objects in ``checkpoint['message_hub']`` (in place)."""
    from mmengine.logging import HistoryBuffer
    hub = checkpoint.get('message_hub') if isinstance(checkpoint,
                                                      dict) else None
    scalars = hub.get('log_scalars') if isinstance(hub, dict) else None
    if not isinstance(scalars, dict):
        return
    for key, value in scalars.items():
        if isinstance(value, dict) and value.get(_HISTORY_BUFFER):
            scalars[key] = HistoryBuffer(value['log_history'].tolist(),
                                         value['count_history'].tolist(),
                                         value['max_length'])


def load_local_checkpoint(filename: str, map_location: Any = None) -> Any:
    """MMEngine's loader for local files (``CheckpointLoader`` scheme ``''``),
    replaced by :func:`load_checkpoint_file`: ``load_from``, ``--resume`` and
    every ``Pretrained`` init read local files weights-only with our
    allowlist, and training checkpoints written with
    :class:`~uniformer_mm.checkpoints.WeightsOnlyCheckpointHook` load in
    full."""
    checkpoint = load_checkpoint_file(
        os.path.expanduser(filename), map_location=map_location)
    restore_history_buffers(checkpoint)
    return checkpoint


def save_weights(model,
                 path: str,
                 dataset_meta: Optional[dict] = None,
                 **meta) -> str:
    """Save only ``model``'s weights, as ``{'state_dict', 'meta'}`` with
    plain types (a small file for inference; training checkpoints carry the
    optimizer and logs too).

    ``dataset_meta`` (classes, palette; default ``model.dataset_meta``) goes
    to ``meta['dataset_meta']``, where the MMDetection / MMSegmentation
    inferencers look for it; extra keyword arguments are stored in ``meta``.
    """
    from mmengine.model import is_model_wrapper
    if is_model_wrapper(model):
        model = model.module
    if dataset_meta is None:
        dataset_meta = getattr(model, 'dataset_meta', None)
    plain_meta = dict(meta)
    if dataset_meta:
        plain_meta['dataset_meta'] = dataset_meta
    plain_meta = to_weights_only(plain_meta)[0]
    state = {
        k: v.detach().cpu().clone()
        for k, v in model.state_dict().items()
    }
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save({'state_dict': state, 'meta': plain_meta}, path)
    return path
