# GFNet-ResNet-50 P128, stage 3 (fine-tuning with the learned policy).
_base_ = ['./gfnet-stage3_resnet50-p96_8xb32_60e_in1k.py']

model = dict(patch_size=128)
load_from = 'work_dirs/gfnet-stage2_resnet50-p128_8xb32_15e_in1k/epoch_15.pth'
