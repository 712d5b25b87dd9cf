# GSoP-Net2 ResNet-101 on ImageNet-1k: the ResNet-50 recipe with a deeper
# backbone (the authors' main.py --arch resnet101 --GSoP_mode 2).
_base_ = ['./gsop-net2_resnet50_8xb48_65e_in1k.py']

model = dict(backbone=dict(depth=101))
