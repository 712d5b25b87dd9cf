# GSoP-Net2 ResNet-50 on ImageNet-1k: GSoP blocks in the last bottleneck of
# stages 1-3, iSQRT-COV head (256-d, 3 iterations, 32,896-d to fc). The
# authors' recipe: batch 384, SGD lr 0.1, weight decay 1e-4, x0.1 at epochs
# 30/45/60, 65 epochs; layer4 at stride 1. Model and schedule are those of
# the iSQRT-COV config but for the GSoP blocks and 3 iterations.
_base_ = ['../isqrt_cov/isqrt-cov_resnet50_8xb20_65e_in1k.py']

model = dict(
    backbone=dict(
        type='GSoPResNet',
        gsop_stages=(True, True, True, False),
        gsop_cfg=dict(type='GSoPChannelBlock', reduced_channels=128)),
    neck=dict(num_iter=3))

train_dataloader = dict(batch_size=48)
val_dataloader = dict(batch_size=48)
test_dataloader = dict(batch_size=48)

auto_scale_lr = dict(base_batch_size=384)
