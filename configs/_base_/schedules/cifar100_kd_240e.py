# The CIFAR-100 KD benchmark schedule (CRD / mdistiller / WKD): SGD with
# Nesterov momentum 0.9 (mdistiller's and WKD's trainer,
# `mdistiller/engine/trainer.py`, always sets nesterov=True), weight decay
# 5e-4, 240 epochs, lr x0.1 at 150/180/210.
# lr 0.05 for ResNet/WRN students; ShuffleNet/MobileNet students use 0.01.
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4,
        nesterov=True))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[150, 180, 210], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=240, val_interval=10)
val_cfg = dict()
test_cfg = dict()
