from .checkpoint_io import (CheckpointRefusedError, load_checkpoint_file,
                            to_weights_only)

__all__ = ['CheckpointRefusedError', 'load_checkpoint_file', 'to_weights_only']
