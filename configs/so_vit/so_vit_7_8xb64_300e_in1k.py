# So-ViT-7 on ImageNet-1k at 224: So-ViT-10's recipe (So_ViT_7.sh).
_base_ = './so_vit_10_8xb64_300e_in1k.py'

model = dict(backbone=dict(arch='7'))
