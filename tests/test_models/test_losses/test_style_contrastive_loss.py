"""StyleContrastiveLoss against an InfoNCE computed by hand in NumPy."""
import numpy as np
import pytest
import torch

from mmext.models.losses import StyleContrastiveLoss


def test_matches_numpy_infonce():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(5, 7, generator=gen)
    p = torch.randn(5, 7, generator=gen)
    an = a.numpy() / np.linalg.norm(a.numpy(), axis=1, keepdims=True)
    pn = p.numpy() / np.linalg.norm(p.numpy(), axis=1, keepdims=True)
    expected = 0.
    for i in range(5):
        sims = np.exp(an[i] @ pn.T / 0.2)
        expected -= np.log(sims[i] / sims.sum())
    loss = StyleContrastiveLoss(temperature=0.2, loss_weight=2.)(a, p)
    assert float(loss) == pytest.approx(2 * expected / 5, rel=1e-5)


def test_matching_views_give_a_lower_loss():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(8, 16, generator=gen)
    loss = StyleContrastiveLoss()
    near = loss(a, a + 0.01 * torch.randn(8, 16, generator=gen))
    shuffled = loss(a, a[torch.randperm(8, generator=gen)])
    assert float(near) < 0.01 < float(shuffled)


def test_gradient_flows_and_shapes_are_checked():
    a = torch.randn(4, 3, requires_grad=True)
    StyleContrastiveLoss()(a, torch.randn(4, 3)).backward()
    assert a.grad.abs().sum() > 0
    with pytest.raises(ValueError, match='N >= 2'):
        StyleContrastiveLoss()(torch.randn(1, 3), torch.randn(1, 3))
