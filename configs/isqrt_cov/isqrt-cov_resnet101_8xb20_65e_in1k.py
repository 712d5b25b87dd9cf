# iSQRT-COV ResNet-101 on ImageNet-1k from scratch: the ResNet-50 recipe
# (batch 160, lr 0.1, steps 30/45/60, 65 epochs) with a deeper backbone.
_base_ = ['./isqrt-cov_resnet50_8xb20_65e_in1k.py']

model = dict(backbone=dict(depth=101))
