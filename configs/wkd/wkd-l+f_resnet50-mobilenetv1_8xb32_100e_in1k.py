# WKD-L+F, ResNet-50 -> MobileNetV1 on ImageNet-1k, with the authors' settings
# (JiamingLv/WKD configs/imagenet/r50_mv1/wkd_lf.yaml): WKD-L with T = 2,
# gamma = 25, kappa = 2 (logit-CKA cost of the ResNet-50 teacher, Sinkhorn
# 0.05 x 10) plus WKD-F with weight 0.005 and mean/covariance ratio 2 on the
# projected last-stage features, 4 x 4 grid; both weights cosine-decayed over
# the whole run (COSINE_DECAY_EPOCH left at 0). Projector: the authors'
# default bottleneck (see wkd-f_resnet50-mobilenetv1_8xb32_100e_in1k.py).
_base_ = ['./wkd-l_resnet50-mobilenetv1_8xb32_100e_in1k.py']

model = dict(
    recorders=dict(student=dict(feats='backbone'),
                   teacher=dict(feats='backbone')),
    connectors=dict(
        proj=dict(type='ConvBottleneckConnector', in_channels=1024,
                  out_channels=2048)),
    distill_losses=dict(loss_wkd_f=dict(type='WKDFeatureLoss',
                                        loss_weight=0.005,
                                        mean_cov_ratio=2.0,
                                        grid=4,
                                        covariance='diagonal',
                                        eps=1e-5,
                                        weight_decay_begin_epoch=0)),
    loss_inputs=dict(loss_wkd_f=dict(feats_S=dict(source='student.feats.0',
                                                  connector='proj'),
                                     feats_T='teacher.feats.0')))
smoke_size_factor = 160 / 224  # see wkd-f_resnet34-resnet18_8xb32_100e_in1k.py
