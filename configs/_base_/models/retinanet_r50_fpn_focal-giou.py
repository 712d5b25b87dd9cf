# Focal + GIoU baseline of the Parameterized AP loss paper (GIoU weight 2 on
# decoded boxes, as the authors' focal+giou config).
_base_ = './retinanet_r50_fpn_paploss-anchors.py'

model = dict(
    bbox_head=dict(
        reg_decoded_bbox=True,
        loss_bbox=dict(_delete_=True, type='GIoULoss', loss_weight=2.0)))
