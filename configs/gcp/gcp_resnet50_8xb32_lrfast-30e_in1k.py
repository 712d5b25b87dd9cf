# GCP ResNet-50, LRfast: polynomial decay of power 11, 30 epochs. The
# authors' code sets lr_e = 0.1 (1 - (e - 1) / 52)^11 at epoch e = 0..29,
# i.e. 0.1 (53 / 52)^11 (1 - e / 53)^11. mmengine's PolyLR sets
# lr_e = lr_0 (1 - e / (end - 1))^power, so lr_0 = 0.1 (53 / 52)^11 and
# end = 54 give exactly these values; training stops after epoch 30.
_base_ = ['./gcp_resnet50_8xb32_lrnorm-100e_in1k.py']

optim_wrapper = dict(optimizer=dict(lr=0.1 * (53 / 52)**11))
param_scheduler = dict(
    _delete_=True,
    type='PolyLR',
    power=11.0,
    eta_min=0.0,
    by_epoch=True,
    begin=0,
    end=54)
train_cfg = dict(max_epochs=30)
