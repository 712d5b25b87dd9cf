# GCP MobileNetV2, LRfast: the authors' MobileNetV2 LRfast recipe
# (ZhangLi-CS/GCP_Optimization src/main.py): batch 96, SGD lr 0.06, x0.92
# every epoch, 100 epochs (weight decay 4e-5 as LRnorm).
_base_ = ['./gcp_mobilenet-v2_4xb24_lrnorm_in1k.py']

optim_wrapper = dict(optimizer=dict(lr=0.06))
param_scheduler = dict(gamma=0.92)
train_cfg = dict(max_epochs=100)
