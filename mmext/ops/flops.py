"""FLOP counts of mmext's ops for mmengine's complexity analysis.

mmengine's :class:`~mmengine.analysis.FlopAnalyzer` (behind
``get_model_complexity_info`` and ``tools/analysis_tools/benchmark.py``)
traces the model with ``torch.jit`` and counts each node through a handle
looked up by the node's kind in ``_DEFAULT_SUPPORTED_FLOP_OPS``. mmext's ops
appear there as the compiled ops (``mmext::deform_sample_forward``) or, for
the covariance ops, which run inside ``torch.autograd.Function`` s, as
``prim::PythonOp.<Function name>`` (the same node on the compiled and the
pure-PyTorch path). :func:`register_flop_handles` (run on ``import mmext``)
adds a handle for each, with mmengine's convention: one multiply-add is one
FLOP, element-wise work is not counted.

Counts:

- ``deform_sample``: 4 per output value (one per bilinear corner), as mmengine
  counts ``aten::grid_sampler``, the fallback path.
- ``cov_pool``: ``B C^2 M`` for ``(B, C, M)`` features (``X X^T``).
- ``newton_schulz_sqrt``: ``B C^3`` per matrix product, and
  :func:`newton_schulz_products` products for ``num_iter`` iterations.
- ``isqrt_cov``: the two above; ``triu_vec`` 0.
- ``bdc_pool``: ``B d^2 M`` for ``(B, d, M)`` features (the Gram matrix
  ``X X^T``, as ``cov_pool``).
"""
import math
from typing import Any, Callable, Dict, List

from mmengine.analysis import complexity_analysis
from mmengine.analysis.jit_handles import get_shape

__all__ = [
    'newton_schulz_products', 'deform_sample_flops', 'cov_pool_flops',
    'newton_schulz_flops', 'isqrt_cov_flops', 'register_flop_handles'
]

Handle = Callable[[List[Any], List[Any]], int]


def newton_schulz_products(num_iter: int) -> int:
    """``C x C`` matrix products of ``num_iter`` coupled Newton-Schulz
    iterations (iSQRT-COV, Li et al. CVPR 2018, Eq. 2-3): ``Y_1 = A T_0``
    (``Z_0 = I``), then per further iteration ``T_k`` (one product),
    ``Y_{k+1} = Y_k T_k`` and, except in the last, ``Z_{k+1} = T_k Z_k``:
    ``1 + 2 (N - 1) + max(N - 2, 0)``, e.g. 12 for ``N = 5``."""
    return 1 + 2 * (num_iter - 1) + max(num_iter - 2, 0)


def deform_sample_flops(output_shape: List[int]) -> int:
    """``deform_sample`` giving an ``(N, C, Hk, Wk)`` output."""
    return 4 * math.prod(output_shape)


def cov_pool_flops(input_shape: List[int]) -> int:
    """``cov_pool`` of ``(B, C, M)`` features."""
    b, c, m = input_shape
    return b * c * c * m


def newton_schulz_flops(input_shape: List[int], num_iter: int) -> int:
    """``newton_schulz_sqrt`` of ``(B, C, C)`` matrices."""
    b, c, _ = input_shape
    return b * c**3 * newton_schulz_products(num_iter)


def isqrt_cov_flops(input_shape: List[int], num_iter: int) -> int:
    """``isqrt_cov`` of ``(B, C, M)`` features."""
    b, c, _ = input_shape
    return cov_pool_flops(input_shape) + newton_schulz_flops([b, c, c],
                                                             num_iter)


def _features(inputs: List[Any]) -> List[int]:
    """Shape of the first input as ``(B, C, M)`` (``(B, C, H, W)`` is
    flattened by the ops)."""
    shape = get_shape(inputs[0])
    return [shape[0], shape[1], math.prod(shape[2:])]


def _op_num_iter(inputs: List[Any], outputs: List[Any]) -> int:
    """``num_iter`` of a compiled op: its second argument, a constant."""
    return int(inputs[1].toIValue())


def _function_num_iter(inputs: List[Any], outputs: List[Any]) -> int:
    """``num_iter`` of an autograd Function: its first non-tensor argument,
    kept on the node (``prim::PythonOp``) that produced the outputs."""
    return int(outputs[0].node().scalar_args()[0])


def _handles() -> Dict[str, Handle]:
    """Node kind -> handle ``(inputs, outputs) -> FLOPs``."""

    def deform_sample(inputs: List[Any], outputs: List[Any]) -> int:
        return deform_sample_flops(get_shape(outputs[0]))

    def cov_pool(inputs: List[Any], outputs: List[Any]) -> int:
        return cov_pool_flops(_features(inputs))

    def newton_schulz(num_iter: Callable[[List[Any], List[Any]], int]
                      ) -> Handle:
        return lambda inputs, outputs: newton_schulz_flops(
            get_shape(inputs[0]), num_iter(inputs, outputs))

    def isqrt_cov(num_iter: Callable[[List[Any], List[Any]], int]) -> Handle:
        return lambda inputs, outputs: isqrt_cov_flops(
            _features(inputs), num_iter(inputs, outputs))

    def no_flops(inputs: List[Any], outputs: List[Any]) -> int:
        return 0

    return {
        'mmext::deform_sample_forward': deform_sample,
        'mmext::cov_pool_forward': cov_pool,
        'prim::PythonOp._CovPool': cov_pool,
        'mmext::sqrtm_ns_forward': newton_schulz(_op_num_iter),
        'prim::PythonOp._NewtonSchulzSqrt': newton_schulz(_function_num_iter),
        'mmext::isqrt_cov_forward': isqrt_cov(_op_num_iter),
        'prim::PythonOp._ISqrtCov': isqrt_cov(_function_num_iter),
        'mmext::triu_vec_forward': no_flops,
        'prim::PythonOp._TriuVec': no_flops,
        'prim::PythonOp._BDCPool': cov_pool,
    }


def register_flop_handles() -> None:
    """Add mmext's handles to the ones every new ``FlopAnalyzer`` (and so
    ``get_model_complexity_info``) starts with."""
    complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS.update(_handles())
