"""UniGradLoss: the autograd gradient against the closed form
-z2m + lambda F z1 (over 2N), the moving average of F against a NumPy
recomputation, F identical on two processes, and bad input."""
import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

import mmext  # noqa: F401
from mmext.models.losses import UniGradLoss


def outputs(n, d, seed):
    g = torch.Generator().manual_seed(seed)
    return [
        F.normalize(torch.randn(n, d, generator=g, dtype=torch.float64), dim=1)
        for _ in range(4)
    ]


def np_batch_corr(z1m, z2m):
    return (z1m.T @ z1m + z2m.T @ z2m) / (2 * len(z1m))


def test_gradient_is_the_closed_form():
    loss_fn = UniGradLoss(dim=6, lambd=100.0, rho=0.9).double()
    corr = None
    for step in range(3):
        z1, z2, z1m, z2m = outputs(5, 6, step)
        z1.requires_grad_()
        z2.requires_grad_()
        loss, pos_sim = loss_fn(z1, z2, z1m, z2m)
        loss.backward()
        a1, a2, m1, m2 = (t.detach().numpy() for t in (z1, z2, z1m, z2m))
        batch = np_batch_corr(m1, m2)
        corr = batch if corr is None else 0.9 * corr + 0.1 * batch
        np.testing.assert_allclose(loss_fn.F.numpy(), corr, rtol=1e-12)
        g1 = -m2 + 100.0 * a1 @ corr
        g2 = -m1 + 100.0 * a2 @ corr
        np.testing.assert_allclose(z1.grad.numpy(), g1 / 10, rtol=1e-10)
        np.testing.assert_allclose(z2.grad.numpy(), g2 / 10, rtol=1e-10)
        ref_loss = 0.5 * ((g1 * a1).sum(1).mean() + (g2 * a2).sum(1).mean())
        assert loss.item() == pytest.approx(ref_loss, rel=1e-10)
        ref_sim = 0.5 * ((a1 * m2).sum(1).mean() + (a2 * m1).sum(1).mean())
        assert pos_sim.item() == pytest.approx(ref_sim, rel=1e-10)
        # no gradient through the momentum outputs
        assert not z1m.requires_grad


def _worker(rank, init_file, out_dir):
    dist.init_process_group(
        'gloo', init_method=f'file://{init_file}', rank=rank, world_size=2)
    loss_fn = UniGradLoss(dim=4, rho=0.5)
    for step in range(2):
        z1, z2, z1m, z2m = (t.float() for t in outputs(3, 4, 10 * step + rank))
        loss_fn(z1, z2, z1m, z2m)
    torch.save(loss_fn.F, os.path.join(out_dir, f'F{rank}.pth'))
    dist.destroy_process_group()


def test_F_identical_on_two_processes(tmp_path):
    mp.spawn(
        _worker, args=(str(tmp_path / 'init'), str(tmp_path)), nprocs=2)
    f0, f1 = (torch.load(tmp_path / f'F{r}.pth') for r in (0, 1))
    assert torch.equal(f0, f1)
    corr = None
    for step in range(2):
        batch = np.mean([
            np_batch_corr(*(t.float().double().numpy()
                            for t in outputs(3, 4, 10 * step + r)[2:]))
            for r in (0, 1)
        ], 0)
        corr = batch if corr is None else 0.5 * corr + 0.5 * batch
    np.testing.assert_allclose(f0.numpy(), corr, rtol=1e-5, atol=1e-7)


def test_bad_input():
    with pytest.raises(ValueError, match='rho=1.5'):
        UniGradLoss(rho=1.5)
    loss_fn = UniGradLoss(dim=4)
    z = torch.zeros(2, 4)
    with pytest.raises(ValueError, match='dim=4'):
        loss_fn(torch.zeros(2, 3), z, z, z)
    with pytest.raises(ValueError, match='non-finite'):
        loss_fn(z, z, torch.full((2, 4), float('nan')), z)
    state = loss_fn.state_dict()
    state['F'][0, 0] = float('inf')
    with pytest.raises(ValueError, match="entry F .*NaN or Inf"):
        UniGradLoss(dim=4).load_state_dict(state)
