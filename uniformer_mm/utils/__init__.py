# the checkpoint I/O lives in uniformer_mm.checkpoints; importable here too
from ..checkpoints.io import (CheckpointRefusedError, load_checkpoint_file,
                              save_weights, to_weights_only)

__all__ = [
    'CheckpointRefusedError', 'load_checkpoint_file', 'save_weights',
    'to_weights_only'
]
