"""WKD-L against a slow per-sample NumPy reference."""
import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub

from mmext.models.losses import WKDLogitLoss


def np_log_softmax(z):
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def np_sinkhorn_cost(a, b, cost, reg, iters):
    kern = np.exp(-cost / reg)
    u = np.ones_like(a) / len(a)
    for _ in range(iters):
        v = b / (kern.T @ u)
        u = a / (kern @ v)
    return float(np.sum(u[:, None] * kern * v[None, :] * cost))


def reference(s, t, labels, dist, temperature, gamma, kappa, reg, iters):
    cost = 1 - np.exp(-kappa * dist) if kappa else dist
    total_t, total_wd = 0.0, 0.0
    for zs, zt, y in zip(s, t, labels):
        p_t = np.exp(np_log_softmax(zt))
        total_t += -p_t[y] * np_log_softmax(zs)[y]
        rest = [c for c in range(len(zs)) if c != y]
        a = np.exp(np_log_softmax(zs[rest] / temperature))
        b = np.exp(np_log_softmax(zt[rest] / temperature))
        total_wd += np_sinkhorn_cost(a, b, cost[np.ix_(rest, rest)], reg,
                                     iters)
    return total_t / len(s) + gamma * total_wd / len(s)


def random_dist(num_classes, rng):
    x = rng.uniform(0, 1, size=(num_classes, num_classes))
    d = (x + x.T) / 2
    np.fill_diagonal(d, 0)
    return d


def test_matches_reference(tmp_path):
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(4, 6)) * 2, rng.normal(size=(4, 6)) * 2
    labels = np.array([0, 3, 5, 3])
    dist = random_dist(6, rng)
    path = str(tmp_path / 'cost.pth')
    torch.save(torch.from_numpy(dist), path)
    loss = WKDLogitLoss(temperature=4.0, gamma=30.0, cost_matrix_file=path,
                        kappa=1.0)
    got = loss(torch.from_numpy(s).float(), torch.from_numpy(t).float(),
               torch.from_numpy(labels))
    ref = reference(s, t, labels, dist, 4.0, 30.0, 1.0, 0.05, 10)
    np.testing.assert_allclose(got.item(), ref, rtol=1e-4)
    # one-hot labels give the same loss
    got_oh = loss(torch.from_numpy(s).float(), torch.from_numpy(t).float(),
                  torch.eye(6)[labels])
    assert got_oh.item() == pytest.approx(got.item(), rel=1e-6)


def test_default_discrete_metric_and_gradients():
    rng = np.random.default_rng(1)
    s = torch.tensor(rng.normal(size=(3, 5)) * 2, requires_grad=True)
    t = torch.tensor(rng.normal(size=(3, 5)) * 2, requires_grad=True)
    labels = torch.tensor([1, 2, 4])
    with pytest.warns(UserWarning, match='discrete metric'):
        loss = WKDLogitLoss(temperature=2.0, gamma=5.0, kappa=0)
    got = loss(s.float(), t.float(), labels)
    dist = 1 - np.eye(5)
    ref = reference(s.detach().numpy(), t.detach().numpy(), labels.numpy(),
                    dist, 2.0, 5.0, 0, 0.05, 10)
    np.testing.assert_allclose(got.item(), ref, rtol=1e-4)
    got.backward()
    assert torch.isfinite(s.grad).all() and t.grad is None


def test_near_one_hot_logits_are_finite():
    s = torch.tensor([[80., 0., 0., 0.], [0., 0., 0., 50.]],
                     requires_grad=True)
    t = torch.tensor([[0., 90., 0., 0.], [0., 0., 0., 0.]])
    with pytest.warns(UserWarning):
        loss = WKDLogitLoss(temperature=1.0, gamma=1.0)
    out = loss(s, t, torch.tensor([0, 1]))
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(s.grad).all()


def test_gamma_cosine_decay():
    with pytest.warns(UserWarning):
        loss = WKDLogitLoss(gamma=800.0, gamma_decay_begin_epoch=150)
    hub = MessageHub.get_instance('test_wkd_gamma_decay')
    hub.update_info('max_epochs', 240)
    for epoch0, expected in [(0, 800.0), (149, 800.0), (194, 400.0),
                             (239, 0.0)]:
        hub.update_info('epoch', epoch0)  # 0-based; the authors' e = +1
        assert loss.current_gamma() == pytest.approx(expected, abs=1e-9)


def test_bad_cost_matrix(tmp_path):
    with pytest.raises(FileNotFoundError, match='wkd_cost_matrix.py'):
        WKDLogitLoss(cost_matrix_file=str(tmp_path / 'missing.pth'))
    path = str(tmp_path / 'c.pth')
    torch.save(torch.zeros(3, 3), path)
    loss = WKDLogitLoss(cost_matrix_file=path)
    with pytest.raises(ValueError, match='4 classes'):
        loss(torch.zeros(2, 4), torch.zeros(2, 4), torch.tensor([0, 1]))
