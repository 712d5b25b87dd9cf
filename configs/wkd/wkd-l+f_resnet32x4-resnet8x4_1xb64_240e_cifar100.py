# WKD-L+F, resnet32x4 -> resnet8x4 on CIFAR-100, with the authors' settings
# (configs/cifar100/wkd_lf/res32x4_res8x4.yaml): WKD-L with T = 8,
# gamma = 200 (cost 1 - exp(-d), d = 1 - linear CKA, Sinkhorn 0.05 x 10)
# plus WKD-F with weight 0.08 and mean/covariance ratio 8 on the projected
# last-stage features; both weights cosine-decayed from epoch 150.
_base_ = ['./wkd-l_resnet32x4-resnet8x4_1xb64_240e_cifar100.py']

model = dict(
    recorders=dict(student=dict(feats='backbone'),
                   teacher=dict(feats='backbone')),
    connectors=dict(
        proj=dict(type='ConvConnector', in_channels=256, out_channels=256)),
    distill_losses=dict(loss_wkd_l=dict(gamma=200.0),
                        loss_wkd_f=dict(type='WKDFeatureLoss',
                                        loss_weight=0.08,
                                        mean_cov_ratio=8.0,
                                        grid=1,
                                        covariance='diagonal',
                                        eps=1e-5,
                                        weight_decay_begin_epoch=150)),
    loss_inputs=dict(loss_wkd_f=dict(feats_S=dict(source='student.feats.0',
                                                  connector='proj'),
                                     feats_T='teacher.feats.0')))
