# UniFormer-XXS, 16 frames at 160 px (official
# exp_light/uniformer_xxs16_160_k400).
_base_ = ['../_base_/kinetics400_uniformer-xxs_u16-160px_pyav-110e.py']
