# GFNet-MobileNetV3-Large 1.25 P128, stage 3: fine-tuning with the learned
# policy; classifier lr 0.01, local encoder 0.005.
_base_ = ['./gfnet-stage1_mobilenetv3-large-1.25-p128_8xb32_90e_in1k.py']

model = dict(stage=3)
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'classifier': dict(lr_mult=2.0)
}))
load_from = ('work_dirs/gfnet-stage2_mobilenetv3-large-1.25-p128_8xb32_15e_'
             'in1k/epoch_15.pth')
