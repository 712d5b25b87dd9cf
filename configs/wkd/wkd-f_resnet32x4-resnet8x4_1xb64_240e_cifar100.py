# WKD-F, resnet32x4 -> resnet8x4 on CIFAR-100, with the authors' settings
# (configs/cifar100/wkd_f/res32x4_res8x4.yaml): the last-stage features
# (8x8x256) of both networks, the student's through a 1x1 conv + BN + ReLU
# projector, one Gaussian per map (grid 1) with diagonal covariance,
# loss 0.08 * (4 * mean term + covariance term), eps 1e-5, the weight
# cosine-decayed from epoch 150. covariance='full' selects the paper's
# full-covariance W2 instead.
_base_ = ['../kd/kd_resnet32x4-resnet8x4_1xb64_240e_cifar100.py']

model = dict(
    student=dict(head=dict(loss=dict(loss_weight=1.0))),
    recorders=dict(_delete_=True,
                   student=dict(feats='backbone'),
                   teacher=dict(feats='backbone')),
    connectors=dict(
        proj=dict(type='ConvConnector', in_channels=256, out_channels=256)),
    distill_losses=dict(_delete_=True,
                        loss_wkd_f=dict(type='WKDFeatureLoss',
                                        loss_weight=0.08,
                                        mean_cov_ratio=4.0,
                                        grid=1,
                                        covariance='diagonal',
                                        eps=1e-5,
                                        weight_decay_begin_epoch=150)),
    loss_inputs=dict(_delete_=True,
                     loss_wkd_f=dict(feats_S=dict(source='student.feats.0',
                                                  connector='proj'),
                                     feats_T='teacher.feats.0')))
