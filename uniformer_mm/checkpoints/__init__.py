"""Everything about checkpoint files, in one place.

* :mod:`.io`: weights-only reading and writing, MMEngine's local loader;
* :mod:`.layout`: finding the state dict inside any official layout;
* :mod:`.backbone`: loading official or own files into a backbone
  (adaptation, 2D -> 3D inflation, the head_dim check);
* :mod:`.convert`: offline conversion of whole official models to our
  configs' keys; :mod:`.video`: the SlowFast video files and label remaps;
* :mod:`.official_keys`: the recorded keys and shapes of every official
  model;
* :mod:`.finetune`: fine-tune loading of whole-model checkpoints
  (``FineTuneRunner``);
* :mod:`.loader` / :mod:`.safe_loading`: MMEngine's local loading made
  weights-only (importing :mod:`.safe_loading` installs it);
* :mod:`.hooks`: the training checkpoint hooks.
"""
from .backbone import (adapt_state_dict, check_head_dim,
                       find_backbone_state_dict, head_dim_from_metadata,
                       inflate_weight, load_pretrained)
from .finetune import (CheckpointMismatchError, FineTuneRunner,
                       load_finetune_state)
from .hooks import WeightsOnlyCheckpointHook
from .io import (CheckpointRefusedError, load_checkpoint_file, save_weights,
                 to_weights_only)
from .loader import install_weights_only_loader, weights_only_loader_installed
from .official_keys import official_state_dict_shapes

__all__ = [
    'official_state_dict_shapes', 'adapt_state_dict', 'check_head_dim',
    'find_backbone_state_dict', 'head_dim_from_metadata', 'inflate_weight',
    'load_pretrained', 'CheckpointRefusedError', 'load_checkpoint_file',
    'save_weights', 'to_weights_only', 'CheckpointMismatchError',
    'FineTuneRunner', 'load_finetune_state', 'WeightsOnlyCheckpointHook',
    'install_weights_only_loader', 'weights_only_loader_installed'
]
