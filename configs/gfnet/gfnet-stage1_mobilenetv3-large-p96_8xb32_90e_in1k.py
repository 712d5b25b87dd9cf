# GFNet-MobileNetV3-Large 1.00, patch 96, T = 3, stage 1. The global encoder
# is an ImageNet MobileNetV3 fine-tuned on 96x96 inputs beforehand and frozen
# (the authors' train_model_prime=False); the step-1 prediction is its own
# head, later steps use the cascade classifier. Authors' recipe: SGD Nesterov
# m 0.9, wd 1e-4, batch 256, 90 epochs, cosine per epoch, lr 0.005 for the
# local encoder and 0.1 for the classifier, deep supervision x5.
_base_ = ['./gfnet-stage1_resnet50-p96_8xb32_60e_in1k.py']

encoder = dict(
    _delete_=True,
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='mmpretrain.MobileNetV3', arch='large'),
    neck=dict(type='mmpretrain.GlobalAveragePooling'),
    head=dict(
        type='mmpretrain.StackedLinearClsHead',
        num_classes=1000,
        in_channels=960,
        mid_channels=[1280],
        dropout_rate=0.2,
        act_cfg=dict(type='HSwish')),
    init_cfg=dict(
        type='Pretrained',
        checkpoint='https://download.openmmlab.com/mmclassification/v0/'
        'mobilenet_v3/convert/mobilenet_v3_large-3ea3c186.pth'))
model = dict(
    num_steps=3,
    frozen=('global_encoder', ),
    glance_logits='encoder',
    dsn_ratio=5.0,
    global_encoder=encoder,
    classifier=dict(
        _delete_=True, type='GFNetHead', in_channels=1280, mode='cascade'),
    policy=dict(
        _delete_=True,
        type='GFNetPolicy',
        in_channels=960,
        encoder='conv',
        hidden_dim=256))
# classifier lr 0.1 = 20 x the local encoder's 0.005
optim_wrapper = dict(
    optimizer=dict(lr=0.005),
    paramwise_cfg=dict(custom_keys={'classifier': dict(lr_mult=20.0)}))
param_scheduler = dict(T_max=90, end=90)
train_cfg = dict(max_epochs=90)
# smoke runs: MobileNetV3-Small (576 channels) with a 64-channel pre-logits
# layer, 16-pixel patches of 32-pixel images
smoke_model = dict(
    _delete_=True,
    patch_size=16,
    global_encoder=dict(
        backbone=dict(arch='small'),
        head=dict(in_channels=576, mid_channels=[64])),
    classifier=dict(in_channels=64),
    policy=dict(in_channels=576, hidden_dim=32))
