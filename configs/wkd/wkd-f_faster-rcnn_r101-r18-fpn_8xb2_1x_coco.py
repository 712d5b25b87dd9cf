# WKD-F on the RoI features, Faster R-CNN R101 -> R18 FPN on COCO (1x
# schedule): the 256 x 7 x 7 RoIAlign outputs of student (after a 1x1
# conv + BN + ReLU projector) and teacher on the same RoIs, the student's
# sampled ones (see the KD baseline this config inherits), each modelled as
# one Gaussian with diagonal covariance. The authors have not released their
# detection code or settings (JiamingLv/WKD issue #1): weight 0.02 and
# mean/covariance ratio 2 are their ImageNet ResNet-34 -> ResNet-18 values.
_base_ = ['../kd/kd_faster-rcnn_r101-r18-fpn_8xb2_1x_coco.py']

model = dict(
    recorders=dict(_delete_=True,
                   student=dict(roi_feats='roi_head.bbox_roi_extractor'),
                   teacher=dict(roi_feats='roi_head.bbox_roi_extractor')),
    connectors=dict(
        proj=dict(type='ConvConnector', in_channels=256, out_channels=256)),
    distill_losses=dict(_delete_=True,
                        loss_wkd_f=dict(type='WKDFeatureLoss',
                                        loss_weight=0.02,
                                        mean_cov_ratio=2.0,
                                        grid=1,
                                        covariance='diagonal',
                                        eps=1e-5)),
    loss_inputs=dict(_delete_=True,
                     loss_wkd_f=dict(feats_S=dict(source='student.roi_feats',
                                                  connector='proj'),
                                     feats_T='teacher.roi_feats')))
