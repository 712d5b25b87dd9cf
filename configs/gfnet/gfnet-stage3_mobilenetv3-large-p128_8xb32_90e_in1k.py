# GFNet-MobileNetV3-Large 1.00 P128, stage 3 (fine-tuning with the learned
# policy).
_base_ = ['./gfnet-stage3_mobilenetv3-large-p96_8xb32_90e_in1k.py']

model = dict(patch_size=128)
load_from = ('work_dirs/gfnet-stage2_mobilenetv3-large-p128_8xb32_15e_in1k/'
             'epoch_15.pth')
