from .ensemble_kd_loss import EnsembleKDLoss
from .kd_loss import KDLoss
from .wkd_feature_loss import WKDFeatureLoss
from .wkd_loss import WKDLogitLoss

__all__ = ['KDLoss', 'WKDLogitLoss', 'WKDFeatureLoss', 'EnsembleKDLoss']
