"""Argument checks shared by mmext's ops.

Every public op validates its tensors here, in Python, before dispatching to
``torch.ops.mmext`` or to its pure-PyTorch reference, so both paths refuse
bad input with the same ``ValueError``: ``"<op>: `<argument>` <problem>"``,
where the problem is a wrong type, number of dimensions, shape, dtype or
device, no spatial positions, NaN/Inf values, or (covariance ops) values so
large that the covariance overflows the dtype.

The value checks are data-dependent (they read the tensor and synchronize),
so they are skipped while ``torch.compile`` traces an op: a compiled graph
checks shapes and dtypes only (the compiled covariance kernels still refuse
non-finite input at run time, with their own message). Each costs one
reduction over the tensor in the common case.
"""
from typing import Tuple

import torch
from torch import Tensor

__all__ = [
    'check_tensor', 'check_same_kind', 'check_finite',
    'check_covariance_range'
]


def check_tensor(fn: str,
                 name: str,
                 value: object,
                 *layouts: str,
                 positions: Tuple[str, ...] = ()) -> Tensor:
    """Check that ``value`` is a floating tensor laid out as one of
    ``layouts``.

    Args:
        fn (str): The op, for the message.
        name (str): The argument, for the message.
        value: The argument.
        *layouts (str): Accepted layouts as space-separated dimension names,
            e.g. ``'B C M'``, ``'B C H W'``; a name used twice must have
            equal sizes (``'B C C'``: square), a number is an exact size
            (``'N Hk Wk 2'``).
        positions (tuple[str]): Names of the spatial dimensions, which must
            not be empty.

    Returns:
        Tensor: ``value``.

    Raises:
        ValueError: Naming ``fn``, ``name`` and what is wrong.
    """
    if not isinstance(value, Tensor):
        raise ValueError(f'{fn}: `{name}` must be a tensor, but got '
                         f'{type(value).__name__}')
    shape = tuple(value.shape)
    dims = [layout.split() for layout in layouts]
    matching = [d for d in dims if len(d) == value.dim()]
    if not matching:
        expected = ' or '.join(f'{len(d)}-D ({", ".join(d)})' for d in dims)
        raise ValueError(f'{fn}: `{name}` must be {expected}, but got a '
                         f'{value.dim()}-D tensor of shape {shape}')
    layout = matching[0]
    sizes: dict = {}
    for dim, size in zip(layout, shape):
        expected_size = int(dim) if dim.isdigit() else sizes.get(dim, size)
        sizes[dim] = expected_size
        if size != expected_size:
            raise ValueError(f'{fn}: `{name}` must be '
                             f'({", ".join(layout)}), but got shape {shape}')
    if not value.is_floating_point():
        raise ValueError(f'{fn}: `{name}` must be floating point, but got '
                         f'{value.dtype}')
    for dim, size in zip(layout, shape):
        if dim in positions and size == 0:
            raise ValueError(f'{fn}: `{name}` has no spatial positions '
                             f'({dim} = 0 in shape {shape})')
    return value


def check_same_kind(fn: str, name: str, value: Tensor, ref_name: str,
                    ref: Tensor) -> None:
    """Check that ``value`` has the dtype and device of ``ref``."""
    if value.dtype != ref.dtype:
        raise ValueError(f'{fn}: `{name}` dtype {value.dtype} differs from '
                         f'`{ref_name}` dtype {ref.dtype}')
    if value.device != ref.device:
        raise ValueError(f'{fn}: `{name}` is on {value.device} but '
                         f'`{ref_name}` on {ref.device}')


def _non_finite_error(fn: str, name: str, value: Tensor,
                      bad: Tensor) -> ValueError:
    """The error for ``value`` with NaN/Inf where ``bad`` is true."""
    first = tuple(bad.nonzero()[0].tolist())
    return ValueError(
        f'{fn}: `{name}` contains NaN or Inf ({int(bad.sum())} of '
        f'{value.numel()} values, the first at index {first})')


def check_finite(fn: str, **tensors: Tensor) -> None:
    """Raise ``ValueError`` naming the first of ``tensors`` (argument name
    -> tensor, all on one device) that has NaN or Inf.

    NaN or Inf anywhere makes a tensor's sum non-finite, so a finite total
    of the sums (one reduction per tensor, no temporary, and one host
    synchronisation for all: on a GPU each stalls the launch queue) clears
    them; only a non-finite total, which finite values can also give by
    overflowing, pays for the exact test. Skipped under ``torch.compile``
    tracing and for meta tensors (shapes without values, e.g. to count a
    model's multiply-adds).
    """
    if torch.compiler.is_compiling():
        return
    named = [(name, value) for name, value in tensors.items()
             if value.numel() and not value.is_meta]
    if not named:
        return
    total = sum(
        value.sum(dtype=torch.promote_types(value.dtype, torch.float32))
        for _, value in named)
    if bool(torch.isfinite(total)):
        return
    for name, value in named:
        bad = ~torch.isfinite(value)
        if bool(bad.any()):
            raise _non_finite_error(fn, name, value, bad)


def _largest_product(sq: Tensor, m: int) -> Tensor:
    """Bound on the covariance kernels' largest intermediate, given bounds
    ``sq`` ``(B, C)`` on ``M Sigma_ii``: the products ``M Sigma``
    (``|M Sigma_ij| <= M max_i Sigma_ii``) and the trace (the sum of the
    ``Sigma_ii``). NaN if ``sq`` has NaN."""
    sq = sq.double()
    return torch.maximum(sq.amax(1), sq.sum(1) / m).amax()


def check_covariance_range(fn: str, name: str, x: Tensor) -> None:
    """Raise ``ValueError`` if ``x`` ``(B, C, M)`` or ``(B, C, H, W)`` has
    NaN or Inf, or if its covariance overflows ``x.dtype``.

    The per-channel sums of squares (one reduction, no temporary) decide in
    the common case: NaN/Inf makes them non-finite, and they bound ``M
    Sigma_ii`` from above (centring only lowers them), so when
    :func:`_largest_product` of them fits the dtype with a margin of 2 for
    rounding, nothing overflows. Otherwise the exact per-channel variances
    decide, and the message says which problem it is. Skipped under
    ``torch.compile`` tracing and for meta tensors.
    """
    if torch.compiler.is_compiling() or x.numel() == 0 or x.is_meta:
        return
    limit = torch.finfo(x.dtype).max / 2
    positions = tuple(range(2, x.dim()))
    m = x[0, 0].numel()
    acc = torch.promote_types(x.dtype, torch.float32)
    norms = torch.linalg.vector_norm(x, dim=positions, dtype=acc)
    if bool(_largest_product(norms.square(), m) < limit):
        return
    var = x.var(dim=positions, correction=0)
    if bool(_largest_product(var * m, m) < limit):
        return
    bad = ~torch.isfinite(x)
    if bool(bad.any()):
        raise _non_finite_error(fn, name, x, bad)
    raise ValueError(
        f'{fn}: the covariance of `{name}` overflows {x.dtype} (values too '
        f'large: the largest channel variance is {var.max().item():.3g})')
