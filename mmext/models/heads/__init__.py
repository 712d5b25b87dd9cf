from .adafocus_v2_head import AdaFocusV2Head
from .adafocus_v2_mlp_policy import AdaFocusV2MLPPolicy
from .adafocus_v2_policy import AdaFocusV2Policy
from .gfnet_head import GFNetHead
from .gfnet_policy import GFNetPolicy
from .logistic_regression_head import LogisticRegressionHead
from .prototype_head import PrototypeHead
from .so_vit_head import SoViTHead
from .tcp_head import TCPHead

__all__ = [
    'AdaFocusV2Head', 'AdaFocusV2MLPPolicy', 'AdaFocusV2Policy', 'GFNetHead',
    'GFNetPolicy',
    'LogisticRegressionHead', 'PrototypeHead',
    'SoViTHead', 'TCPHead'
]
