from .few_shot import FewShotAccuracy, mean_confidence_interval
from .multi_exit_accuracy import MultiExitAccuracy
from .quality_correlation import (QualityCorrelation, pairwise_agreement,
                                  preference_agreement)

__all__ = [
    'FewShotAccuracy', 'mean_confidence_interval', 'MultiExitAccuracy',
    'QualityCorrelation', 'preference_agreement', 'pairwise_agreement'
]
