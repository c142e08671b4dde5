from .checkpoint_io import (CheckpointRefusedError, load_checkpoint_file,
                            save_weights, to_weights_only)

__all__ = [
    'CheckpointRefusedError', 'load_checkpoint_file', 'save_weights',
    'to_weights_only'
]
