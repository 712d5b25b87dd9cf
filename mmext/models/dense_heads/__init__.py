from .pap_anchor_head_mixin import PAPAnchorHeadMixin
from .pap_retina_head import PAPRetinaHead
from .pap_rpn_head import PAPRPNHead

__all__ = ['PAPAnchorHeadMixin', 'PAPRetinaHead', 'PAPRPNHead']
