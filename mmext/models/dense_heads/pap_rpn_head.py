"""RPN head trained by the Parameterized AP loss (Tao et al., NeurIPS 2021;
the authors' ``PAPLossRPNHead``)."""
from mmdet.models.dense_heads import RPNHead

from mmext.registry import MODELS
from .pap_anchor_head_mixin import PAPAnchorHeadMixin


@MODELS.register_module()
class PAPRPNHead(PAPAnchorHeadMixin, RPNHead):
    """``RPNHead`` whose only loss is :class:`PAPLoss` (``loss_cls``, e.g.
    ``dict(type='PAPLoss', preset='rpn')``), see :class:`PAPAnchorHeadMixin`.
    Shapes as ``RPNHead``; the loss dict holds ``loss_rpn_pap``.
    """

    loss_key = 'loss_rpn_pap'
    default_preset = 'rpn'
