# WKD-F, WRN-40-2 -> ShuffleNetV1 on CIFAR-100, with the authors' settings
# (JiamingLv/WKD configs/cifar100/wkd_f/wrn40_2_shuv1.yaml): lr 0.01,
# HINT_LAYER -1 of both networks: the teacher's last-stage output before its
# final BN + ReLU (8x8x128, what their WRN returns as its last feature) and
# the student's last stage (4x4x960, after ReLU), projected by their
# "conv1x1" ConvReg, which for a student map half the teacher's size is a
# 4x4 stride-2 transposed conv + BN + ReLU; Gaussians with diagonal
# covariance on a 4 x 4 grid (SPATIAL_GRID 4), loss
# 0.3 * (3 * mean term + covariance term), eps 1e-5, the weight
# cosine-decayed from epoch 150.
_base_ = ['../kd/kd_wrn40-2-shufflenetv1_1xb64_240e_cifar100.py']

model = dict(
    student=dict(head=dict(loss=dict(loss_weight=1.0))),
    recorders=dict(_delete_=True,
                   student=dict(feats='backbone'),
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
    distill_losses=dict(_delete_=True,
                        loss_wkd_f=dict(type='WKDFeatureLoss',
                                        loss_weight=0.3,
                                        mean_cov_ratio=3.0,
                                        grid=4,
                                        covariance='diagonal',
                                        eps=1e-5,
                                        weight_decay_begin_epoch=150)),
    loss_inputs=dict(_delete_=True,
                     loss_wkd_f=dict(feats_S=dict(source='student.feats.0',
                                                  connector='proj'),
                                     feats_T='teacher.feats')))
# smoke runs (mmext/testing/smoke.py): keep the 32x32 crops, whose 8x8
# teacher maps a 4 x 4 grid of cells with >= 2 positions each needs
smoke_size_factor = 1.0
