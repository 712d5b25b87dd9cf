# GFNet-DenseNet-121 P96, stage 3: fine-tuning with the learned policy; the
# classifier's lr is 0.01, that of the encoders.
_base_ = ['./gfnet-stage1_densenet121-p96_8xb32_60e_in1k.py']

model = dict(stage=3, global_encoder=dict(init_cfg=None))
optim_wrapper = dict(paramwise_cfg=dict(custom_keys={
    'classifier': dict(lr_mult=1.0)
}))
load_from = ('work_dirs/gfnet-stage2_densenet121-p96_8xb32_15e_in1k/'
             'epoch_15.pth')
