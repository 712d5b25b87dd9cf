"""Custom C++/CUDA ops with pure-PyTorch references.

Sources live in ``csrc/`` (mmcv's layout: ``pytorch/<op>.cpp`` registers
``torch.ops.mmext.<op>``, ``pytorch/cpu/`` and ``pytorch/cuda/`` hold the
kernels); :mod:`mmext.ops.ext_loader` loads them.
"""
from .bdc import bdc_pool
from .cov_sqrt import (cov_pool, cross_cov_pool, isqrt_cov,
                       newton_schulz_sqrt, triu_vec)
from .deform_sample import deform_sample, deform_sample_reference
from .ext_loader import (cpu_workspace_cached_bytes, cpu_workspace_release,
                         ext_available, ext_with_cuda)
from .flops import register_flop_handles

# mmengine's FLOP counter (get_model_complexity_info) counts mmext's ops
register_flop_handles()

__all__ = [
    'ext_available', 'ext_with_cuda', 'cpu_workspace_release',
    'cpu_workspace_cached_bytes', 'cov_pool', 'cross_cov_pool',
    'isqrt_cov', 'newton_schulz_sqrt', 'triu_vec', 'bdc_pool',
    'deform_sample', 'deform_sample_reference'
]
