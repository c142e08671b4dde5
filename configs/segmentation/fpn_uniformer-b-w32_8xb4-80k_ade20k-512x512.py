# Test config: the global model (fpn_uniformer-b) with 32x32 windows.
_base_ = './fpn_uniformer-b_8xb4-80k_ade20k-512x512.py'

model = dict(backbone=dict(attn_mode='window', window_size=32))
