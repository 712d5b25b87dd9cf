from .few_shot import FewShotAccuracy, mean_confidence_interval

__all__ = ['FewShotAccuracy', 'mean_confidence_interval']
