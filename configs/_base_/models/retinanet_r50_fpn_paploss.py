# RetinaNet trained by the Parameterized AP loss with the authors' searched
# RetinaNet curves and regression gradient scale 4.1231 (no box loss).
_base_ = './retinanet_r50_fpn_paploss-anchors.py'

model = dict(
    bbox_head=dict(
        type='PAPRetinaHead',
        reg_input='giou',
        loss_cls=dict(_delete_=True, type='PAPLoss', preset='retinanet')))

custom_imports = dict(imports=['mmext'], allow_failed_imports=False)
