# ACmix-Swin-S on ImageNet-1k at 224: the ACmix-Swin-T recipe with the small
# arch and drop path 0.3 (the authors'
# Swin-Transformer/configs/acmix_swin_small_patch4_window7_224.yaml).
_base_ = './acmix_swin-tiny_8xb128_300e_in1k.py'

model = dict(backbone=dict(arch='small', drop_path_rate=0.3))
