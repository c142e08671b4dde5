"""Distributed training on CPU-only machines (gloo)."""
import os

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel


class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also wraps CPU modules.

    MMEngine's runner always passes ``device_ids=[LOCAL_RANK]``, which
    ``DistributedDataParallel`` rejects for a module on the CPU; there the
    ids are dropped. On GPUs it is exactly ``MMDistributedDataParallel``.
    """

    def __init__(self, module, device_ids=None, **kwargs):
        param = next(module.parameters(), None)
        if param is not None and param.device.type == 'cpu':
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def init_cpu_process_group(launcher: str) -> bool:
    """Start a gloo process group when a launcher asks for distributed
    training on a machine without CUDA.

    MMEngine's ``init_dist`` for the ``pytorch`` launcher calls
    ``torch.cuda.set_device``, which fails without CUDA; a group that already
    exists is used by the runner as it is.

    Returns:
        bool: whether the caller must also use
        :class:`CPUDistributedDataParallel`.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise ValueError(f'CPU-only distributed training supports the '
                         f"'pytorch' launcher (torchrun), got {launcher!r}")
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    return True
