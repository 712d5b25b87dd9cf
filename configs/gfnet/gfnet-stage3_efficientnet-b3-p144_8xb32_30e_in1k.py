# GFNet-EfficientNet-B3 P144, stage 3 (fine-tuning with the learned policy).
_base_ = ['./gfnet-stage3_efficientnet-b3-p128_8xb32_30e_in1k.py']

model = dict(patch_size=144)
load_from = ('work_dirs/gfnet-stage2_efficientnet-b3-p144_8xb32_15e_in1k/'
             'epoch_15.pth')
