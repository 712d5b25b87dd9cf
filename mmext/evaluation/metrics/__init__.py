from .checked_metric import CheckedMetric
from .few_shot import FewShotAccuracy, mean_confidence_interval
from .multi_exit_accuracy import MultiExitAccuracy
from .policy_attribution import (PolicyAttributionMetric, action_fidelity,
                                 curve_auc, deletion_insertion_curves,
                                 mask_coverage, mask_overlap, random_masks,
                                 top_k_masks)
from .quality_correlation import (QualityCorrelation, pairwise_agreement,
                                  preference_agreement)

__all__ = [
    'CheckedMetric', 'FewShotAccuracy', 'mean_confidence_interval', 'MultiExitAccuracy',
    'PolicyAttributionMetric', 'action_fidelity', 'curve_auc',
    'deletion_insertion_curves', 'mask_overlap', 'mask_coverage',
    'random_masks', 'top_k_masks',
    'QualityCorrelation', 'preference_agreement', 'pairwise_agreement'
]
