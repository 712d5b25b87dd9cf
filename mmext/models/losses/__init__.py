from .ensemble_kd_loss import EnsembleKDLoss
from .kd_loss import KDLoss
from .parameterized_ap_loss import PAPLoss
from .style_contrastive_loss import StyleContrastiveLoss
from .temporal_causal_mask_loss import TemporalCausalMaskLoss
from .unigrad_loss import UniGradLoss
from .wkd_feature_loss import WKDFeatureLoss
from .wkd_loss import WKDLogitLoss

__all__ = [
    'KDLoss', 'WKDLogitLoss', 'WKDFeatureLoss', 'EnsembleKDLoss', 'PAPLoss',
    'TemporalCausalMaskLoss',
    'UniGradLoss', 'StyleContrastiveLoss'
]
