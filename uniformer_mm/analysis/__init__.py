"""Model analysis: parameter and FLOP counting (:mod:`.flops`)."""
from .flops import count_flops, sdpa_flop_jit, set_fused_attention

__all__ = ['count_flops', 'sdpa_flop_jit', 'set_fused_attention']
