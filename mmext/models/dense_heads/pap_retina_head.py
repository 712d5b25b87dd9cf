"""RetinaNet head trained by the Parameterized AP loss (Tao et al., NeurIPS
2021; the authors' ``PAPLossRetinaHead``)."""
from mmdet.models.dense_heads import RetinaHead

from mmext.registry import MODELS
from .pap_anchor_head_mixin import PAPAnchorHeadMixin


@MODELS.register_module()
class PAPRetinaHead(PAPAnchorHeadMixin, RetinaHead):
    """``RetinaHead`` whose only loss is :class:`PAPLoss` (``loss_cls``,
    e.g. ``dict(type='PAPLoss', preset='retinanet')``), see
    :class:`PAPAnchorHeadMixin`. Shapes as ``RetinaHead``; the loss dict
    holds ``loss_pap``.
    """
