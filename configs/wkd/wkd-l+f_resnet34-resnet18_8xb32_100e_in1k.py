# WKD-L+F, ResNet-34 -> ResNet-18 on ImageNet-1k, with the authors' settings
# (JiamingLv/WKD configs/imagenet/r34_r18/wkd_lf.yaml): WKD-L with T = 2,
# gamma = 10 (cost 1 - exp(-d), d = 1 - linear CKA of the teacher's logits,
# Sinkhorn 0.05 x 10) plus WKD-F with weight 1.0 and mean/covariance ratio 2
# on the projected last-stage features (HINT_LAYER 4, the last of their 5
# feature maps), 4 x 4 grid; both weights cosine-decayed over the whole run.
# Projector: the authors' bottleneck (see
# wkd-f_resnet34-resnet18_8xb32_100e_in1k.py).
_base_ = ['./wkd-l_resnet34-resnet18_8xb32_100e_in1k.py']

model = dict(
    recorders=dict(student=dict(feats='backbone'),
                   teacher=dict(feats='backbone')),
    connectors=dict(
        proj=dict(type='ConvBottleneckConnector', in_channels=512,
                  out_channels=512)),
    distill_losses=dict(loss_wkd_l=dict(gamma=10.0),
                        loss_wkd_f=dict(type='WKDFeatureLoss',
                                        loss_weight=1.0,
                                        mean_cov_ratio=2.0,
                                        grid=4,
                                        covariance='diagonal',
                                        eps=1e-5,
                                        weight_decay_begin_epoch=0)),
    loss_inputs=dict(loss_wkd_f=dict(feats_S=dict(source='student.feats.0',
                                                  connector='proj'),
                                     feats_T='teacher.feats.0')))
smoke_size_factor = 160 / 224  # see wkd-f_resnet34-resnet18_8xb32_100e_in1k.py
