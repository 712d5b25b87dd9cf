# WKD-F, ResNet-50 -> MobileNetV1 on ImageNet-1k, with the authors' settings
# (JiamingLv/WKD configs/imagenet/r50_mv1/wkd_f.yaml plus the defaults of
# their cfg.py): the last-stage features of the student (7x7x1024) projected
# to the teacher's (7x7x2048), Gaussians with diagonal covariance on a 4 x 4
# grid, loss 0.005 * (2 * mean term + covariance term), eps 1e-5, the weight
# cosine-decayed from epoch 30 (COSINE_DECAY_EPOCH 30). Projector: the
# authors' default bottleneck (1x1 conv to 256, 3x3 conv, 1x1 conv to 2048,
# then BN + ReLU).
_base_ = ['../kd/kd_resnet50-mobilenetv1_8xb32_100e_in1k.py']

model = dict(
    student=dict(head=dict(loss=dict(loss_weight=1.0))),
    recorders=dict(_delete_=True,
                   student=dict(feats='backbone'),
                   teacher=dict(feats='backbone')),
    connectors=dict(
        proj=dict(type='ConvBottleneckConnector', in_channels=1024,
                  out_channels=2048)),
    distill_losses=dict(_delete_=True,
                        loss_wkd_f=dict(type='WKDFeatureLoss',
                                        loss_weight=0.005,
                                        mean_cov_ratio=2.0,
                                        grid=4,
                                        covariance='diagonal',
                                        eps=1e-5,
                                        weight_decay_begin_epoch=30)),
    loss_inputs=dict(_delete_=True,
                     loss_wkd_f=dict(feats_S=dict(source='student.feats.0',
                                                  connector='proj'),
                                     feats_T='teacher.feats.0')))
smoke_size_factor = 160 / 224  # see wkd-f_resnet34-resnet18_8xb32_100e_in1k.py
