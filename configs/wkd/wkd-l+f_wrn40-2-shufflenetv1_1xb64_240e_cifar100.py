# WKD-L+F, WRN-40-2 -> ShuffleNetV1 on CIFAR-100, with the authors' settings
# (JiamingLv/WKD configs/cifar100/wkd_lf/wrn40_2_shuv1.yaml): lr 0.01,
# WKD-L with T = 4, gamma = 60 (cost 1 - exp(-d), d = 1 - linear CKA of
# WRN-40-2's per-class features, Sinkhorn 0.05 x 10) plus WKD-F with weight
# 0.5, mean/covariance ratio 3, 4 x 4 grid and the transposed-conv projector
# of wkd-f_wrn40-2-shufflenetv1_1xb64_240e_cifar100.py; both weights
# cosine-decayed from epoch 150.
_base_ = ['./wkd-l_wrn40-2-shufflenetv1_1xb64_240e_cifar100.py']

model = dict(
    recorders=dict(student=dict(feats='backbone'),
                   teacher=dict(feats='backbone.layer3')),
    connectors=dict(
        proj=dict(
            type='ConvModule',
            in_channels=960,
            out_channels=128,
            kernel_size=4,
            stride=2,
            padding=1,
            conv_cfg=dict(type='deconv'),
            norm_cfg=dict(type='BN'),
            act_cfg=dict(type='ReLU'))),
    distill_losses=dict(loss_wkd_l=dict(temperature=4.0, gamma=60.0),
                        loss_wkd_f=dict(type='WKDFeatureLoss',
                                        loss_weight=0.5,
                                        mean_cov_ratio=3.0,
                                        grid=4,
                                        covariance='diagonal',
                                        eps=1e-5,
                                        weight_decay_begin_epoch=150)),
    loss_inputs=dict(loss_wkd_f=dict(feats_S=dict(source='student.feats.0',
                                                  connector='proj'),
                                     feats_T='teacher.feats')))
# see wkd-f_wrn40-2-shufflenetv1_1xb64_240e_cifar100.py
smoke_size_factor = 1.0
