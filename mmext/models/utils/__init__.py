from .bilinear_crop import bilinear_patches
from .category_distance import (cka_distance_matrix, cosine_distance_matrix,
                                linear_cka)
from .frozen_stages import FrozenStagesMixin
from .gaussian_w2 import gaussian_w2_diag, gaussian_w2_full
from .grad_scale import grad_scale
from .mpncov import MPNCOV_TRACE_EPS, mpncov_isqrt
from .multi_exit import (MultiExitMixin, all_steps_predict,
                         early_exit_predict, exit_confidence, iter_all_steps)
from .patch_crop import crop_patches, patch_corners
from .sinkhorn import sinkhorn

__all__ = [
    'sinkhorn', 'linear_cka', 'cka_distance_matrix', 'cosine_distance_matrix',
    'gaussian_w2_diag', 'gaussian_w2_full', 'FrozenStagesMixin', 'grad_scale',
    'MPNCOV_TRACE_EPS', 'mpncov_isqrt', 'MultiExitMixin', 'exit_confidence',
    'iter_all_steps', 'all_steps_predict', 'early_exit_predict',
    'crop_patches', 'patch_corners', 'bilinear_patches'
]
