from .arch import (ARCH_ZOO_2D, ARCH_ZOO_3D, ARCH_ZOO_LIGHT_2D,
                   ARCH_ZOO_LIGHT_3D, resolve_arch, resolve_light_arch,
                   unpruned_arch)
from .blocks import AttentionBlock, ConvBlock
from .ops import FastPaths
from .uniformer import UniFormer, UniFormer3D
from .uniformer_light import UniFormerLight, UniFormerLight3D

__all__ = [
    'ARCH_ZOO_2D', 'ARCH_ZOO_3D', 'resolve_arch', 'AttentionBlock',
    'ConvBlock', 'UniFormer', 'UniFormer3D', 'ARCH_ZOO_LIGHT_2D',
    'ARCH_ZOO_LIGHT_3D', 'resolve_light_arch', 'unpruned_arch',
    'UniFormerLight', 'UniFormerLight3D', 'FastPaths'
]
