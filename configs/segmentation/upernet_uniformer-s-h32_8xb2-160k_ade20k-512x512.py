# Test config: the global model (upernet_uniformer-s) run with hybrid MHRA,
# 32x32 windows except blocks 4 and 8, as the official test_config_h32.
_base_ = './upernet_uniformer-s_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(attn_mode='hybrid', window_size=32))
