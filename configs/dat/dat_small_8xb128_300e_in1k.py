# DAT-S on ImageNet-1k at 224 (configs/dat_small.yaml): DAT-T's recipe with
# stochastic depth 0.3.
_base_ = './dat_tiny_8xb128_300e_in1k.py'

model = dict(backbone=dict(arch='small', drop_path_rate=0.3))
