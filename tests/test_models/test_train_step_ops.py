"""A training step of mmext's models with the compiled ops against the same
step with the pure-PyTorch fallbacks (``mmext.testing.train_step``): losses
and gradients equal within float32 tolerance.

On the CPU (CI) for the models that call the ops, at small sizes. On CUDA
(``tools/gpu_check.sh``, ``-k cuda``) for DAT-T, iSQRT-COV ResNet-50,
So-ViT-7, ACmix-ResNet-26 and GSoP ResNet-50 at 224 x 224, also against the
step on the CPU; skipped without a GPU, a failure instead under the GPU check
(``MMEXT_REQUIRE_CUDA_EXT=1``).
"""
import os

import pytest
import torch

from mmext.ops import ext_available, ext_with_cuda
from mmext.testing.train_step import (MODEL_CONFIGS, build_classifier,
                                      compare_steps, train_step)

# ops vs fallback on one device: relative loss difference, relative norm of
# the gradients' difference, worst element relative to the largest gradient
SAME_DEVICE_TOL = dict(loss=1e-5, grad=1e-4, grad_max=1e-3)
# CUDA vs CPU in float64 without dropout / drop path (the devices' random
# streams differ; in float32 their convolution and matmul kernels and
# atomics round differently, which a deep network amplifies beyond any
# tolerance that would still catch a wrong kernel)
CROSS_DEVICE_TOL = dict(loss=1e-9, grad=1e-7, grad_max=1e-6)


def _inputs(batch, size, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 3, size, size, generator=gen),
            torch.randint(0, 1000, (batch, ), generator=gen))


def _check(diff, tol, what):
    assert diff['finite'], f'{what}: non-finite loss or gradients'
    for key, limit in tol.items():
        assert diff[key] < limit, f'{what}: {key} {diff[key]:.2e} >= {limit}'


@pytest.mark.skipif(not ext_available(), reason='mmext._ext not built')
@pytest.mark.parametrize('name,batch,size', [
    ('DAT-T', 1, 224),
    ('iSQRT-COV-R50', 2, 64),
    ('GSoP-R50', 2, 64),
])
def test_train_step_cpu_ops_vs_fallback(name, batch, size):
    assert MODEL_CONFIGS[name][1], 'a model without ops compares nothing'
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # steadier on a shared 2-core machine
    try:
        model = build_classifier(name)
        x, y = _inputs(batch, size)
        called, called_ref = set(), set()
        ops = train_step(model, x, y, called=called)
        fallback = train_step(model, x, y, reference=True, called=called_ref)
    finally:
        torch.set_num_threads(threads)
    assert called and not called_ref, (called, called_ref)
    _check(compare_steps(ops, fallback), SAME_DEVICE_TOL, name)
    # the same fallback step with other stochastic-depth/dropout draws
    # differs, where the model has any (so the comparison can fail)
    if name == 'DAT-T':
        other = train_step(model, x, y, reference=True, seed=1)
        assert compare_steps(ops, other)['grad'] > 1e-2


@pytest.fixture
def cuda_deterministic():
    if not torch.cuda.is_available() or not ext_with_cuda():
        reason = 'no CUDA device or extension without CUDA kernels'
        if os.environ.get('MMEXT_REQUIRE_CUDA_EXT') == '1':
            pytest.fail(reason)
        pytest.skip(reason)
    backends = torch.backends
    saved = (backends.cudnn.deterministic, backends.cudnn.benchmark,
             backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32)
    backends.cudnn.deterministic, backends.cudnn.benchmark = True, False
    backends.cudnn.allow_tf32 = backends.cuda.matmul.allow_tf32 = False
    yield
    (backends.cudnn.deterministic, backends.cudnn.benchmark,
     backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32) = saved


@pytest.mark.parametrize('name', sorted(MODEL_CONFIGS))
def test_train_step_cuda_ops_vs_fallback(name, cuda_deterministic):
    model = build_classifier(name)
    x, y = _inputs(2, 224)
    called, called_ref = set(), set()
    ops = train_step(model, x.cuda(), y.cuda(), called=called)
    fallback = train_step(model, x.cuda(), y.cuda(), reference=True,
                          called=called_ref)
    assert bool(called) == MODEL_CONFIGS[name][1], called
    assert not called_ref, called_ref
    _check(compare_steps(ops, fallback), SAME_DEVICE_TOL,
           f'{name}: CUDA ops vs CUDA fallback')
    x64 = x.double()
    ops64 = train_step(model, x64.cuda(), y.cuda(), stochastic=False)
    cpu64 = train_step(model, x64, y, reference=True, stochastic=False)
    _check(compare_steps(ops64, cpu64), CROSS_DEVICE_TOL,
           f'{name}: CUDA ops vs CPU fallback (float64)')
