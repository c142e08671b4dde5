# Test config: the global model (upernet_uniformer-b) with 32x32 windows.
_base_ = './upernet_uniformer-b_8xb2-160k_ade20k-512x512.py'

model = dict(backbone=dict(attn_mode='window', window_size=32))
