from .category_distance import (cka_distance_matrix, cosine_distance_matrix,
                                linear_cka)
from .sinkhorn import sinkhorn

__all__ = [
    'sinkhorn', 'linear_cka', 'cka_distance_matrix', 'cosine_distance_matrix'
]
