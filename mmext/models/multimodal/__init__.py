from .dapl import DAPL, DAPLPromptLearner, UDADataPreprocessor

__all__ = ['DAPL', 'DAPLPromptLearner', 'UDADataPreprocessor']
