# Test config: the global model (fpn_uniformer-s) run with 32x32 windows in
# every stage-3 block, as the official test_config_w32.
_base_ = './fpn_uniformer-s_8xb4-80k_ade20k-512x512.py'

model = dict(backbone=dict(attn_mode='window', window_size=32))
