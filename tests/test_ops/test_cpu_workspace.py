"""The compiled ops' CPU buffer pool: buffers are reused across calls, never
while still in use, within the configured limit, and releasable.

Results are compared with the pure-PyTorch reference (``impl='ref'``), which
does not use the pool.
"""
import gc
import os
import subprocess
import sys

import pytest
import torch

from mmext.ops import cpu_workspace_cached_bytes, cpu_workspace_release
from mmext.ops import isqrt_cov
from mmext.ops.cov_sqrt import _ext_has_ops
from mmext.ops.cov_sqrt_ref import cache_size

pytestmark = pytest.mark.skipif(
    not _ext_has_ops(), reason='mmext._ext without cov ops')

B, C, M, N = 3, 16, 20, 3
CACHE_BYTES = cache_size(N) * B * C * C * 4


def _fwd_bwd(x, grad, impl):
    x = x.detach().requires_grad_()
    out = isqrt_cov(x, N, impl=impl)
    (gx, ) = torch.autograd.grad(out, x, grad)
    return out.detach(), gx


def _inputs(seed):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, C, M, generator=g),
            torch.randn(B, C * (C + 1) // 2, generator=g))


def test_buffers_are_reused_and_released():
    gc.collect()  # pooled buffers of earlier tests' graphs come back now
    cpu_workspace_release()
    assert cpu_workspace_cached_bytes() == 0
    sizes = []
    for seed in range(3):
        x, grad = _inputs(seed)
        out, gx = _fwd_bwd(x, grad, 'ext')
        ref_out, ref_gx = _fwd_bwd(x, grad, 'ref')
        torch.testing.assert_close(out, ref_out, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(gx, ref_gx, rtol=1e-4, atol=1e-6)
        sizes.append(cpu_workspace_cached_bytes())
    # The forward cache and the backward buffers came back after the first
    # call, and later calls took the same blocks instead of new ones.
    assert sizes[0] >= CACHE_BYTES + 3 * B * C * C * 4
    assert sizes == [sizes[0]] * 3
    assert cpu_workspace_release() == sizes[0]
    assert cpu_workspace_cached_bytes() == 0


def test_buffers_in_use_are_not_handed_out_twice():
    cpu_workspace_release()
    _fwd_bwd(*_inputs(0), 'ext')  # fill the pool
    (x1, g1), (x2, g2) = _inputs(1), _inputs(2)
    x1 = x1.requires_grad_()
    x2 = x2.requires_grad_()
    # Both graphs hold a forward cache at the same time.
    out1 = isqrt_cov(x1, N, impl='ext')
    out2 = isqrt_cov(x2, N, impl='ext')
    (gx2, ) = torch.autograd.grad(out2, x2, g2)
    (gx1, ) = torch.autograd.grad(out1, x1, g1)
    for x, g, out, gx in ((x1, g1, out1, gx1), (x2, g2, out2, gx2)):
        ref_out, ref_gx = _fwd_bwd(x, g, 'ref')
        torch.testing.assert_close(out.detach(), ref_out, rtol=1e-4,
                                   atol=1e-6)
        torch.testing.assert_close(gx, ref_gx, rtol=1e-4, atol=1e-6)


# 256 KiB per (4, 128, 128) float32 buffer: with a 1 MiB limit the 2 MiB
# forward cache is freed, (at least) the three backward buffers are kept.
SCRIPT = """
import torch
from mmext.ops import cpu_workspace_cached_bytes, isqrt_cov
x = torch.randn(4, 128, 50, requires_grad=True)
isqrt_cov(x, 3, impl='ext').sum().backward()
print(cpu_workspace_cached_bytes())
"""


def _run(limit_mb):
    env = dict(os.environ, MMEXT_CPU_WORKSPACE_MB=limit_mb)
    return subprocess.run([sys.executable, '-c', SCRIPT], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize('limit_mb,low,high', [('0', 0, 0),
                                               ('1', 3 * 2**18, 2**20),
                                               ('', 2**21, 2**30)])
def test_limit_from_environment(limit_mb, low, high):
    proc = _run(limit_mb)
    assert proc.returncode == 0, proc.stderr
    assert low <= int(proc.stdout.split()[-1]) <= high


def test_invalid_limit_is_a_clear_error():
    proc = _run('lots')
    assert proc.returncode != 0
    assert 'MMEXT_CPU_WORKSPACE_MB' in proc.stderr
    assert "'lots'" in proc.stderr
