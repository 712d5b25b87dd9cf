# GFNet-EfficientNet-B3 P128, stage 3: fine-tuning with the learned policy;
# classifier lr 0.01, local encoder 0.005.
_base_ = ['./gfnet-stage1_efficientnet-b3-p128_8xb32_30e_in1k.py']

model = dict(stage=3, global_encoder=dict(init_cfg=None))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'classifier': dict(lr_mult=2.0)
}))
load_from = ('work_dirs/gfnet-stage2_efficientnet-b3-p128_8xb32_15e_in1k/'
             'epoch_15.pth')
