from .kd_loss import KDLoss
from .wkd_loss import WKDLogitLoss

__all__ = ['KDLoss', 'WKDLogitLoss']
