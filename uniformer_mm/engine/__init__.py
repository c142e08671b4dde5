from .checks import (check_checkpoint_paths, check_dataset_paths,
                     missing_dataset_paths)
from .distributed import CPUDistributedDataParallel, init_cpu_process_group
from .hooks import WeightsOnlyCheckpointHook

__all__ = [
    'check_checkpoint_paths', 'check_dataset_paths', 'missing_dataset_paths',
    'CPUDistributedDataParallel', 'WeightsOnlyCheckpointHook',
    'init_cpu_process_group'
]
