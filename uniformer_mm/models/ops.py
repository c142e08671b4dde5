"""What the CPU running the model can do, for choosing an implementation.

The speed paths of the blocks depend on the hardware: the blocked bf16
attention only pays where the CPU multiplies bf16 in hardware. Without
AVX512-BF16 or AMX (e.g. an AVX2-only x86 CPU) PyTorch emulates bf16 and
matrix products run ~10-60x slower than in float32 (a 1024x1024 product:
49 GFLOP/s float32, 0.8 GFLOP/s bf16 measured on an AVX2 machine).
"""
import functools

import torch


@functools.lru_cache(maxsize=None)
def cpu_bf16_native() -> bool:
    """Whether this CPU computes bf16 matrix products in hardware.

    True with AVX512-BF16 or AMX (x86). Other CPUs report False, so code
    that is faster only with native bf16 stays on the float32 path there.
    """
    checks = ('_is_avx512_bf16_supported', '_is_amx_tile_supported')
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def cpu_capability() -> str:
    """This CPU's vector capability in words, e.g. ``'AVX2, no native
    bf16'`` or ``'AVX512, native bf16 (avx512_bf16)'``."""
    base = torch.backends.cpu.get_cpu_capability()
    if not cpu_bf16_native():
        return f'{base}, no native bf16 (needs AVX512-BF16 or AMX)'
    units = [
        name for name, check in (('avx512_bf16', '_is_avx512_bf16_supported'),
                                 ('amx', '_is_amx_tile_supported'))
        if getattr(torch.cpu, check, lambda: False)()
    ]
    return f'{base}, native bf16 ({", ".join(units)})'
