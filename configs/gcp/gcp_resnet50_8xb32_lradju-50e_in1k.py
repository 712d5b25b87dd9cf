# GCP ResNet-50, LRadju: polynomial decay of power 2, 50 epochs. The
# authors' code sets lr_e = 0.1 (1 - (e - 1) / 49)^2 at epoch e = 0..49,
# i.e. 0.1 (50 / 49)^2 (1 - e / 50)^2. mmengine's PolyLR sets
# lr_e = lr_0 (1 - e / (end - 1))^power, so lr_0 = 0.1 (50 / 49)^2 and
# end = 51 give exactly these values.
_base_ = ['./gcp_resnet50_8xb32_lrnorm-100e_in1k.py']

optim_wrapper = dict(optimizer=dict(lr=0.1 * (50 / 49)**2))
param_scheduler = dict(
    _delete_=True,
    type='PolyLR',
    power=2.0,
    eta_min=0.0,
    by_epoch=True,
    begin=0,
    end=51)
train_cfg = dict(max_epochs=50)
