"""Metrics, evaluators and the adaptive-inference toolkit."""
from .budgeted_batch import (P_VALUES, anytime_accuracy, evaluate_thresholds,
                             exit_steps, fit_thresholds,
                             geometric_exit_fractions, stored_thresholds)
from .frechet_distance import feature_gaussian, frechet_distance
from .metrics import *  # noqa: F401,F403
from .metrics import __all__ as _metrics
from .step_cost import CONVENTIONS, layer_macs, measure_step_costs

__all__ = _metrics + [
    'P_VALUES', 'geometric_exit_fractions', 'fit_thresholds', 'exit_steps',
    'anytime_accuracy', 'evaluate_thresholds', 'stored_thresholds',
    'CONVENTIONS', 'layer_macs',
    'measure_step_costs', 'feature_gaussian', 'frechet_distance'
]
