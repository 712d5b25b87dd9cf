# CE + GIoU baseline of the Parameterized AP loss paper (GIoU weight 10 on
# decoded boxes in the R-CNN head, as the authors' CE+giou config).
_base_ = 'mmdet::_base_/models/faster-rcnn_r50_fpn.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            reg_decoded_bbox=True,
            loss_bbox=dict(_delete_=True, type='GIoULoss',
                           loss_weight=10.0))))
