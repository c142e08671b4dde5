from .distributed import CPUDistributedDataParallel, init_cpu_process_group
from .hooks import WeightsOnlyCheckpointHook

__all__ = [
    'CPUDistributedDataParallel', 'WeightsOnlyCheckpointHook',
    'init_cpu_process_group'
]
