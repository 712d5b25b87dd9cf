"""Log-domain Sinkhorn against exact OT solvers (POT's network-simplex
``ot.emd2`` and, independently of it, scipy's linear-programming solver)."""
import math

import numpy as np
import ot
import pytest
import torch
from scipy.optimize import linprog

from mmext.models.utils import sinkhorn


def exact_ot(a: np.ndarray, b: np.ndarray, cost: np.ndarray) -> float:
    """min <C, P> s.t. P 1 = a, P^T 1 = b, P >= 0 by POT's ``ot.emd2``,
    checked against the same problem as a scipy linear program."""
    value = float(ot.emd2(a, b, cost))
    assert abs(value - exact_ot_linprog(a, b, cost)) < 1e-9
    return value


def exact_ot_linprog(a: np.ndarray, b: np.ndarray,
                     cost: np.ndarray) -> float:
    """min <C, P> s.t. P 1 = a, P^T 1 = b, P >= 0, as a linear program."""
    n, m = cost.shape
    a_eq = np.zeros((n + m, n * m))
    for i in range(n):
        a_eq[i, i * m:(i + 1) * m] = 1
    for j in range(m):
        a_eq[n + j, j::m] = 1
    res = linprog(cost.ravel(), A_eq=a_eq, b_eq=np.concatenate([a, b]),
                  bounds=(0, None), method='highs')
    assert res.status == 0
    return res.fun


def random_problem(batch, n, m, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(batch, n, generator=g, dtype=torch.float64) + 0.05
    b = torch.rand(batch, m, generator=g, dtype=torch.float64) + 0.05
    cost = torch.rand(batch, n, m, generator=g, dtype=torch.float64)
    return a / a.sum(1, keepdim=True), b / b.sum(1, keepdim=True), cost


@pytest.mark.parametrize('reg', [0.05, 0.01])
def test_converged_cost_within_entropic_bias(reg):
    a, b, cost = random_problem(4, 6, 5, seed=0)
    plan, dist = sinkhorn(a.log(), b.log(), cost, reg=reg, num_iters=3000)
    for k in range(4):
        exact = exact_ot(a[k].numpy(), b[k].numpy(), cost[k].numpy())
        # 0 <= <C, P_reg> - OT <= reg * (H(a) + H(b)) <= reg * log(n m)
        assert dist[k].item() >= exact - 1e-6
        assert dist[k].item() <= exact + reg * math.log(6 * 5) + 1e-6
    # marginals: rows exact after the last update, columns converged
    torch.testing.assert_close(plan.sum(2), a, rtol=0, atol=1e-10)
    torch.testing.assert_close(plan.sum(1), b, rtol=0, atol=1e-6)


def test_small_lambda_converges_to_exact_ot():
    a, b, cost = random_problem(3, 5, 5, seed=1)
    _, dist = sinkhorn(a.log(), b.log(), cost, reg=1e-3, num_iters=20000)
    for k in range(3):
        exact = exact_ot(a[k].numpy(), b[k].numpy(), cost[k].numpy())
        assert abs(dist[k].item() - exact) < 5e-3


def test_shared_cost_broadcasts():
    a, b, cost = random_problem(3, 4, 4, seed=2)
    shared = cost[0]
    _, d1 = sinkhorn(a.log(), b.log(), shared, num_iters=50)
    _, d2 = sinkhorn(a.log(), b.log(), shared.expand(3, 4, 4), num_iters=50)
    torch.testing.assert_close(d1, d2)


def test_matches_plain_domain_scaling():
    # a slow, plain-domain loop (u, v scalings) with the same update order
    a, b, cost = random_problem(2, 5, 5, seed=3)
    reg, iters = 0.05, 10
    plan, _ = sinkhorn(a.log(), b.log(), cost, reg=reg, num_iters=iters)
    for k in range(2):
        kern = np.exp(-cost[k].numpy() / reg)
        u = np.ones(5) / 5
        for _ in range(iters):
            v = b[k].numpy() / (kern.T @ u)
            u = a[k].numpy() / (kern @ v)
        ref = u[:, None] * kern * v[None, :]
        np.testing.assert_allclose(plan[k].numpy(), ref, rtol=1e-8)


@pytest.mark.parametrize('reg', [0.05, 1e-3])
def test_stable_and_finite_gradients(reg):
    # one-hot and near-one-hot histograms, small lambda, float32
    logits_a = torch.tensor([[60., 0., 0., 0.], [3., 1., 0., -2.]],
                            requires_grad=True)
    logits_b = torch.tensor([[0., 0., 80., 0.], [0., 0., 0., 0.]])
    log_a = torch.log_softmax(logits_a, 1)
    log_b = torch.log_softmax(logits_b, 1)
    cost = 1 - torch.eye(4)
    plan, dist = sinkhorn(log_a, log_b, cost, reg=reg, num_iters=10)
    assert torch.isfinite(plan).all() and torch.isfinite(dist).all()
    dist.sum().backward()
    assert torch.isfinite(logits_a.grad).all()
    # exact one-hot marginals (log 0 = -inf) give zero rows, not NaN
    one_hot = torch.tensor([[0., 1., 0., 0.]])
    plan, dist = sinkhorn(one_hot.log(), log_b[:1].detach(), cost, reg=reg)
    assert torch.isfinite(plan).all()
    assert plan[0, [0, 2, 3]].abs().max() == 0
    # moving all mass from class 1 to class 2 costs 1
    assert dist.item() == pytest.approx(1.0, abs=1e-4)


def test_bad_arguments():
    a = torch.full((1, 3), 1 / 3).log()
    with pytest.raises(ValueError, match='reg'):
        sinkhorn(a, a, torch.ones(3, 3), reg=0)
    with pytest.raises(ValueError, match='cost'):
        sinkhorn(a, a, torch.ones(3, 4))
