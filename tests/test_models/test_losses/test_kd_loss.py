"""Hinton KD loss against a NumPy computation."""
import numpy as np
import pytest
import torch

from mmext.models.losses import KDLoss
from mmext.registry import MODELS


def np_softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.parametrize('tau', [1.0, 4.0])
def test_kd_loss_closed_form(tau):
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(5, 7)) * 3, rng.normal(size=(5, 7)) * 3
    p, q = np_softmax(t / tau), np_softmax(s / tau)
    ref = 0.9 * tau**2 * np.mean(np.sum(p * np.log(p / q), axis=1))
    loss = MODELS.build(dict(type='KDLoss', tau=tau, loss_weight=0.9))
    got = loss(torch.from_numpy(s), torch.from_numpy(t))
    np.testing.assert_allclose(got.item(), ref, rtol=1e-10)


def test_kd_loss_zero_and_teacher_gets_no_gradient():
    s = torch.randn(3, 4, requires_grad=True)
    t = s.detach().clone().requires_grad_(True)
    loss = KDLoss(tau=2.0)(s, t)
    assert loss.item() == pytest.approx(0.0, abs=1e-7)
    KDLoss(tau=2.0)(s, t + 1 * torch.arange(4.)).backward()
    assert t.grad is None and s.grad is not None


def test_kd_loss_bad_tau():
    with pytest.raises(ValueError, match='tau'):
        KDLoss(tau=0)
