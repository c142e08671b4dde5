"""Where the weights are in a loaded checkpoint, written once for every
reader (backbone loading, offline conversion, the video files)."""
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import torch

# containers of the official layouts, in the order they are looked for:
# SlowFast video, OpenMMLab, DeiT/timm ImageNet
CONTAINERS = ('model_state', 'state_dict', 'model')
SHOWN = 8  # names listed per problem in an error message


def listing(keys: List[str], sep: str = ', ') -> str:
    """The first :data:`SHOWN` of ``keys`` joined by ``sep``, and how many
    more there are."""
    more = f' ... (+{len(keys) - SHOWN} more)' if len(keys) > SHOWN else ''
    return sep.join(keys[:SHOWN]) + more


def fit_problems(missing: List[str], unexpected: List[str],
                 mismatched: List[str]) -> List[str]:
    """One line per kind of misfit between a state dict and a model."""
    problems = []
    if missing:
        problems.append(f'{len(missing)} model weights absent from the '
                        f'checkpoint: {listing(missing)}')
    if unexpected:
        problems.append(f'{len(unexpected)} checkpoint weights the model '
                        f'does not have: {listing(unexpected)}')
    if mismatched:
        problems.append(f'{len(mismatched)} shape mismatches: '
                        f'{listing(mismatched)}')
    return problems


def strip_prefix(state_dict: Dict[str, Any], prefix: str) -> Dict[str, Any]:
    """The entries under ``prefix``, with the prefix removed."""
    return OrderedDict((k[len(prefix):], v) for k, v in state_dict.items()
                       if k.startswith(prefix))


def locate_state_dict(
        checkpoint: Any) -> Tuple[Optional[str], Dict[str, torch.Tensor]]:
    """The container key (one of :data:`CONTAINERS`, None for a bare state
    dict) and the state dict in it, with the ``module.`` prefix of
    ``DistributedDataParallel`` runs stripped.

    Raises:
        ValueError: ``checkpoint`` is no dict, or holds non-tensor entries
            where the weights should be.
    """
    if not isinstance(checkpoint, dict):
        raise ValueError(
            'a checkpoint must be a dict of tensors or hold one under '
            f"{', '.join(map(repr, CONTAINERS))}; got "
            f'{type(checkpoint).__name__}')
    for container in CONTAINERS:
        if isinstance(checkpoint.get(container), dict):
            state_dict = checkpoint[container]
            break
    else:
        container, state_dict = None, checkpoint
    not_tensors = [
        k for k, v in state_dict.items() if not isinstance(v, torch.Tensor)
    ]
    if not_tensors:
        raise ValueError(
            'the checkpoint holds non-tensor entries where weights are '
            f'expected: {listing(not_tensors)}')
    return container, strip_ddp_prefix(state_dict)


def strip_ddp_prefix(state_dict: Dict[str, Any]) -> Dict[str, Any]:
    """``state_dict`` without the ``module.`` prefix that saving a
    ``DistributedDataParallel`` model gives every key (unchanged when not
    every key has it)."""
    if state_dict and all(k.startswith('module.') for k in state_dict):
        return strip_prefix(state_dict, 'module.')
    return state_dict
