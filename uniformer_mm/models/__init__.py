from .arch import ARCH_ZOO_2D, ARCH_ZOO_3D, resolve_arch
from .blocks import AttentionBlock, ConvBlock
from .official_weights import (adapt_state_dict, find_backbone_state_dict,
                               inflate_weight, load_pretrained)
from .uniformer import UniFormer, UniFormer3D

__all__ = [
    'ARCH_ZOO_2D', 'ARCH_ZOO_3D', 'resolve_arch', 'AttentionBlock',
    'ConvBlock', 'UniFormer', 'UniFormer3D', 'adapt_state_dict',
    'find_backbone_state_dict', 'inflate_weight', 'load_pretrained'
]
