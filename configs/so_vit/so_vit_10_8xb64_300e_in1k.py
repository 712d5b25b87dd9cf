# So-ViT-10 on ImageNet-1k at 224: So-ViT-14's recipe with weight decay 0.03
# and no dropout before the visual classifier (So_ViT_10.sh, So_vit_10).
_base_ = './so_vit_14_8xb64_300e_in1k.py'

model = dict(
    backbone=dict(arch='10'),
    head=dict(in_channels=256, reduced_channels=(48, 24), dropout=0.))

optim_wrapper = dict(optimizer=dict(weight_decay=0.03))
