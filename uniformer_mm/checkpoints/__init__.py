"""Checkpoint handling: the official UniFormer state-dict layouts."""
from .official_keys import official_state_dict_shapes

__all__ = ['official_state_dict_shapes']
