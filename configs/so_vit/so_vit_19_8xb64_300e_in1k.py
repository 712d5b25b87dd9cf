# So-ViT-19 on ImageNet-1k at 224: So-ViT-14's recipe (So_ViT_19.sh).
_base_ = './so_vit_14_8xb64_300e_in1k.py'

model = dict(
    backbone=dict(arch='19'),
    head=dict(in_channels=448, reduced_channels=(96, 48)))
