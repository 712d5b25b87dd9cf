# WKD-F, ResNet-34 -> ResNet-18 on ImageNet-1k, with the authors' settings
# (JiamingLv/WKD configs/imagenet/r34_r18/wkd_f.yaml plus the defaults of
# their mdistiller/engine/cfg.py): the last-stage features (7x7x512, after
# ReLU) of both networks, the student's through a projector, Gaussians with
# diagonal covariance on a 4 x 4 grid of cells (SPATIAL_GRID 4), loss
# 0.02 * (2 * mean term + covariance term), eps 1e-5, the weight
# cosine-decayed over the whole run (COSINE_DECAY_EPOCH 0).
# Projector: the authors' ImageNet default (PROJECTOR bottleneck,
# ConvRegBottleNeck): 1x1 conv to 256 channels, 3x3 conv, 1x1 conv to the
# teacher's channels, then BN + ReLU.
_base_ = ['../kd/kd_resnet34-resnet18_8xb32_100e_in1k.py']

model = dict(
    student=dict(head=dict(loss=dict(loss_weight=1.0))),
    recorders=dict(_delete_=True,
                   student=dict(feats='backbone'),
                   teacher=dict(feats='backbone')),
    connectors=dict(
        proj=dict(type='ConvBottleneckConnector', in_channels=512,
                  out_channels=512)),
    distill_losses=dict(_delete_=True,
                        loss_wkd_f=dict(type='WKDFeatureLoss',
                                        loss_weight=0.02,
                                        mean_cov_ratio=2.0,
                                        grid=4,
                                        covariance='diagonal',
                                        eps=1e-5,
                                        weight_decay_begin_epoch=0)),
    loss_inputs=dict(_delete_=True,
                     loss_wkd_f=dict(feats_S=dict(source='student.feats.0',
                                                  connector='proj'),
                                     feats_T='teacher.feats.0')))
# smoke runs (mmext/testing/smoke.py): 160x160 crops give the 5x5 last-stage
# maps that a 4 x 4 grid of cells with >= 2 positions each needs
smoke_size_factor = 160 / 224
