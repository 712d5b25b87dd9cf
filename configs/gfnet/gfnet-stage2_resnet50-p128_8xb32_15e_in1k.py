# GFNet-ResNet-50 P128, stage 2 (PPO on the policy only).
_base_ = ['./gfnet-stage2_resnet50-p96_8xb32_15e_in1k.py']

model = dict(patch_size=128)
load_from = 'work_dirs/gfnet-stage1_resnet50-p128_8xb32_60e_in1k/epoch_60.pth'
