# GCP ResNet-50 on ImageNet-1k, LRnorm (Wang et al., CVPR 2020; authors'
# code ZhangLi-CS/GCP_Optimization src/main.py): batch 256, SGD lr 0.1,
# momentum 0.9, weight decay 1e-4, x0.1 every 30 epochs, 100 epochs. The GCP
# head is iSQRT-COV's, so the model is that of the iSQRT-COV config: layer4
# at stride 1, 1x1 conv 2048 -> 256 + BN + ReLU, 5 Newton-Schulz iterations,
# 32,896-d upper triangle into the classifier; only the schedule differs.
_base_ = ['../isqrt_cov/isqrt-cov_resnet50_8xb20_65e_in1k.py']

train_dataloader = dict(batch_size=32)
val_dataloader = dict(batch_size=32)
test_dataloader = dict(batch_size=32)

param_scheduler = dict(
    _delete_=True, type='StepLR', by_epoch=True, step_size=30, gamma=0.1)
train_cfg = dict(max_epochs=100)
auto_scale_lr = dict(base_batch_size=256)
