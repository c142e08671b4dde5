from .distributed import CPUDistributedDataParallel, init_cpu_process_group
from .finetune import (CheckpointMismatchError, FineTuneRunner,
                       load_finetune_state)
from .hooks import WeightsOnlyCheckpointHook
from .loading import install_weights_only_loader, weights_only_loader_installed
from .preflight import (check_checkpoint_paths, check_dataset_paths,
                        missing_dataset_paths, prepare_embedded_data)

__all__ = [
    'check_checkpoint_paths', 'check_dataset_paths', 'missing_dataset_paths',
    'prepare_embedded_data', 'CPUDistributedDataParallel',
    'WeightsOnlyCheckpointHook', 'init_cpu_process_group',
    'install_weights_only_loader', 'weights_only_loader_installed',
    'CheckpointMismatchError', 'FineTuneRunner', 'load_finetune_state'
]
