"""iSQRT-COV as the authors' ``MPNCOV.py`` computes it (TCP, TAMT).

TCP and TAMT share one ``MPNCOV.py`` (Peihua Li's group): centred covariance
of the ``M`` positions, coupled Newton-Schulz square root with trace
pre-normalization and post-compensation, 1e-5 added to the trace ("gzl
2021.01.05"). :func:`mpncov_isqrt` is that computation through
:func:`mmext.ops.isqrt_cov`, in float32 also under autocast (the square root
diverges in half precision); float64 input stays float64.
"""
import torch
from torch import Tensor

from mmext.ops import isqrt_cov

__all__ = ['MPNCOV_TRACE_EPS', 'mpncov_isqrt']

#: The authors add 1e-5 to the trace in the pre-normalization; mmext's op
#: floors it at ``eps`` instead, which differs only for traces below 1e-5.
MPNCOV_TRACE_EPS = 1e-5


def mpncov_isqrt(x: Tensor, num_iter: int = 3, triu: bool = True) -> Tensor:
    """Square root of the covariance of ``x``'s positions.

    Args:
        x (Tensor): Features ``(B, C, M)`` or ``(B, C, H, W)``.
        num_iter (int): Newton-Schulz iterations. Defaults to 3.
        triu (bool): Return the row-major upper triangle. Defaults to True.

    Returns:
        Tensor: ``(B, C (C + 1) / 2)`` if ``triu`` else ``(B, C, C)``,
        float64 for float64 input, else float32.
    """
    if x.dtype != torch.float64:
        x = x.float()
    with torch.autocast(device_type=x.device.type, enabled=False):
        return isqrt_cov(x, num_iter, triu=triu, eps=MPNCOV_TRACE_EPS)
