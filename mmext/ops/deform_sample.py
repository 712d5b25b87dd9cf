"""Deformable key/value sampling, the sampling step of DAT's deformable
attention (Xia et al., "Vision Transformer with Deformable Attention",
CVPR 2022, Sec. 3.2, Eq. (7)-(8)).

``deform_sample(input, grid)`` samples ``input`` (N, C, H, W) (N = batch x
offset groups) bilinearly at ``grid`` (N, Hk, Wk, 2), normalised ``(x, y)``
positions in [-1, 1] with -1 / 1 the centres of the first / last pixel
(``align_corners=True``); samples outside the map read zeros. The result
(N, C, Hk, Wk) equals ``F.grid_sample(input, grid, mode='bilinear',
padding_mode='zeros', align_corners=True)``, which is the pure-PyTorch
reference and the fallback when mmext's compiled ops are missing. Under
autocast the op computes in the dtype ``F.grid_sample`` would (probed once
per device and dtypes): float32 on the CPU, the wider argument dtype on
CUDA (checked on an H200, torch 2.11); outside autocast, half-precision
arguments are computed in their own precision.

Bad input raises one ``ValueError`` naming the argument and the problem,
before dispatch, so the compiled kernel and the ``F.grid_sample`` path refuse
it alike (:mod:`mmext.ops.tensor_check`): not a tensor, wrong number of
dimensions or shape, not floating point, ``grid`` of another dtype, device
or number of maps, an ``input`` without spatial positions (``H`` or ``W``
0), and NaN/Inf in ``input`` or ``grid``. The value check costs one sum per
tensor and one host sync for both (on an H200, torch 2.11, the op's fwd+bwd
at DAT-T's shapes took 0.7 ms with a sync per tensor and 0.3 ms without
the check, ``F.grid_sample`` 0.2-0.3 ms; the kernels alone 1.0-1.8x
``F.grid_sample``'s), and is skipped while ``torch.compile`` traces; there
the kernels give a non-finite position NaN in every channel of that sample,
as ``F.grid_sample`` does.

The compiled kernels (``torch.ops.mmext.deform_sample_forward`` /
``deform_sample_backward``, C++ with ``at::parallel_for`` and CUDA) compute
the four corner offsets and weights of a point once and reuse them for all C
channels (on x86-64 CPUs with AVX2 the forward takes a copy picked at run
time, for float32 written with AVX2 gathers, 8 points at a time). The CPU
backward gives each map to one thread (no atomics) and works channels last:
the map is transposed into a scratch with a zero row that outside corners
point to, so every point reads and updates whole vectors of channels
without masks; it computes only the gradients asked for and reads the
incoming gradient through its strides. Benchmark
(``tools/analysis_tools/benchmark_deform_sample.py``, fp32, fwd+bwd with a
dense incoming gradient, batch 32, DAT-T shapes, op and ``F.grid_sample``
timed side by side), op / ``F.grid_sample`` on a 2-core CPU shared with
other jobs, one thread (load average 3): stage-3 key/value sampling 0.49,
stage 4 0.51; bias-table sampling (4 channels at HW x Hk*Wk points) stage 3
0.41, stage 4 0.37 (issue 16 measured 1.65-2.40 before); under load average
9-12, 0.39-0.55. With two threads on the loaded machine every OpenMP region
(the op's and ``F.grid_sample``'s) waits ~8 ms for its second thread, and
the ratios were 0.43-0.96. The DAT-T training step (batch 8) with the op
took 0.97x the step with ``F.grid_sample`` (3.14 / 3.25 s, one thread, load
1.3; 0.97 with two threads; 0.87 once under load 9-12): the sampling is a
few percent of the step, so issue 16's 0.93 is not reached. Peak
memory equal (the same saved tensors and gradients; the per-thread scratch
is a few rows).

Fusion: not done, because it does not pay off. Fusing the 1x1 key/value
projections into the sampling can only save the sampled (N, C, Hk, Wk)
tensor and its re-read: at batch 32 the sampling is 16 ms of the 330 ms that
sampling + both projections take fwd+bwd at stage 3 (5%; stage 4: 12 of 322
ms, 4%), the rest being the two GEMMs a fused kernel would have to redo
without BLAS, and the tensor saved is 9.2 MiB (stage 4: 4.6 MiB). Sampling
first and projecting the C-channel result is already the cheaper order
(projecting first would sample 2C channels). The relative-position-bias
sampling reads a different map (the bias table) at different positions (the
HW x Hk*Wk query-key displacements), so it is a second call of this op, not
part of the same pass.
"""
import warnings
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from .ext_loader import ext_available, ext_with_cuda
from .tensor_check import check_finite, check_same_kind, check_tensor

__all__ = ['deform_sample', 'deform_sample_reference']


def deform_sample_reference(input: Tensor, grid: Tensor) -> Tensor:
    """The pure-PyTorch path: ``F.grid_sample`` with the op's settings."""
    return F.grid_sample(
        input,
        grid,
        mode='bilinear',
        padding_mode='zeros',
        align_corners=True)


def _check(input: Tensor, grid: Tensor) -> None:
    """Refuse bad arguments with one ``ValueError`` (see the module doc)."""
    fn = 'deform_sample'
    check_tensor(fn, 'input', input, 'N C H W', positions=('H', 'W'))
    check_tensor(fn, 'grid', grid, 'N Hk Wk 2')
    if grid.size(0) != input.size(0):
        raise ValueError(
            f'deform_sample: `grid` has {grid.size(0)} maps but `input` has '
            f'{input.size(0)} (both are batch x groups)')
    check_same_kind(fn, 'grid', grid, 'input', input)
    check_finite(fn, input=input, grid=grid)


@lru_cache(maxsize=None)
def _has_op() -> bool:
    """Whether the loaded extension has the op (warns once if stale)."""
    try:
        torch.ops.mmext.deform_sample_forward
    except (AttributeError, RuntimeError):
        warnings.warn('mmext._ext was built without deform_sample (stale '
                      'build); using F.grid_sample. Rebuild with `bash '
                      'tools/setup_env.sh`.')
        return False
    return True


_registered = False


def _register() -> bool:
    """Whether the compiled op can be used; on the first ``True``, attach
    its autograd and fake (meta) kernels."""
    global _registered
    if not (ext_available() and _has_op()):
        return False
    if _registered:
        return True
    op = 'mmext::deform_sample_forward'

    @torch.library.register_fake(op)
    def _forward_fake(input: Tensor, grid: Tensor) -> Tensor:
        return input.new_empty(
            (input.size(0), input.size(1), grid.size(1), grid.size(2)))

    @torch.library.register_fake('mmext::deform_sample_backward')
    def _backward_fake(grad_output: Tensor, input: Tensor, grid: Tensor,
                       need_input: bool, need_grid: bool) -> tuple:
        return (torch.empty_like(input) if need_input else input.new_empty(0),
                torch.empty_like(grid) if need_grid else grid.new_empty(0))

    def setup_context(ctx, inputs, output) -> None:
        ctx.save_for_backward(*inputs)

    def backward(ctx, grad_output: Tensor) -> tuple:
        input, grid = ctx.saved_tensors
        need_input, need_grid = ctx.needs_input_grad
        grad_input, grad_grid = torch.ops.mmext.deform_sample_backward(
            grad_output, input, grid, need_input, need_grid)
        return (grad_input if need_input else None,
                grad_grid if need_grid else None)

    torch.library.register_autograd(
        op, backward, setup_context=setup_context)
    _registered = True
    return True


# A constant for torch.compile: the check imports the extension once, which
# dynamo must not trace.
@torch.compiler.assume_constant_result
def _use_kernel(device_type: str) -> bool:
    """Whether the compiled kernel serves tensors on ``device_type``."""
    if device_type == 'cpu':
        return _register()
    if device_type == 'cuda':
        return _register() and ext_with_cuda()
    return False


def deform_sample(input: Tensor, grid: Tensor) -> Tensor:
    """Sample ``input`` bilinearly at normalised positions ``grid``.

    Args:
        input (Tensor): (N, C, H, W) features, N = batch x offset groups.
        grid (Tensor): (N, Hk, Wk, 2) positions, ``(x, y)`` in [-1, 1]
            (``align_corners=True``); outside the map reads zeros.

    Returns:
        Tensor: (N, C, Hk, Wk), differentiable w.r.t. ``input`` and ``grid``.

    Raises:
        ValueError: Naming the argument: a shape, dtype or device that does
            not fit, an empty map, or NaN/Inf values.
    """
    input, grid = _autocast_inputs(input, grid)
    _check(input, grid)
    if _use_kernel(input.device.type):
        return torch.ops.mmext.deform_sample_forward(input, grid)
    return deform_sample_reference(input, grid)


def _autocast_inputs(input: Tensor, grid: Tensor) -> tuple:
    """Under autocast, both arguments in the dtype ``F.grid_sample`` would
    compute in, so the op follows its autocast policy on every device and
    torch version: float32 on the CPU (grid_sampler is on CPU autocast's
    float32 list), the wider of the two dtypes on CUDA (its "promote" list).
    DAT under mixed precision passes float32 features with a half-precision
    grid (the offsets come from a conv)."""
    if not isinstance(input, Tensor) or not isinstance(grid, Tensor):
        return input, grid
    device_type = input.device.type
    # the meta device (shape-only cost counts) has no autocast state
    if device_type == 'meta' or not torch.is_autocast_enabled(device_type):
        return input, grid
    dtype = _autocast_dtype(input.device, input.dtype, grid.dtype,
                            torch.get_autocast_dtype(input.device.type))
    return input.to(dtype), grid.to(dtype)


@lru_cache(maxsize=None)
def _autocast_dtype(device: torch.device, input_dtype: torch.dtype,
                    grid_dtype: torch.dtype,
                    autocast_dtype: torch.dtype) -> torch.dtype:
    """The output dtype of ``F.grid_sample`` under the current autocast for
    these argument dtypes, probed once on one-element tensors."""
    probe = F.grid_sample(
        torch.zeros(1, 1, 1, 1, dtype=input_dtype, device=device),
        torch.zeros(1, 1, 1, 2, dtype=grid_dtype, device=device),
        align_corners=True)
    return probe.dtype