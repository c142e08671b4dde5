# Global MHRA in stage 3. The official -w32 / -h32 rows test this one model
# with other windows (see the two configs that inherit this one).
_base_ = './fpn_uniformer-s-h14_8xb4-80k_ade20k-512x512.py'

model = dict(backbone=dict(attn_mode='global'))
