from .few_shot import FewShotAccuracy, mean_confidence_interval
from .multi_exit_accuracy import MultiExitAccuracy

__all__ = ['FewShotAccuracy', 'mean_confidence_interval', 'MultiExitAccuracy']
