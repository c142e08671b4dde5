from .distributed import CPUDistributedDataParallel, init_cpu_process_group
from .preflight import (ClassCountCheckHook, check_checkpoint_paths,
                        check_class_counts, check_dataset_paths,
                        missing_dataset_paths, prepare_embedded_data)

__all__ = [
    'ClassCountCheckHook', 'check_checkpoint_paths', 'check_class_counts',
    'check_dataset_paths', 'missing_dataset_paths', 'prepare_embedded_data',
    'CPUDistributedDataParallel', 'init_cpu_process_group'
]
