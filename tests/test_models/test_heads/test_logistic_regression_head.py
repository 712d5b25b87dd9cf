"""LogisticRegressionHead against an independent fit of the same objective
(torch L-BFGS in float64): 0.5 ||W||^2 + C * sum CE, intercept free,
on L2-normalised features."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmext.models import LogisticRegressionHead


def _reference(support, labels, query, C):
    def norm(x):
        return x / (x.norm(dim=1, keepdim=True) + 1e-6)

    xs, xq = norm(support.double()), norm(query.double())
    n = int(labels.max()) + 1
    w = torch.zeros(xs.size(1), n, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, tolerance_grad=1e-12,
                            tolerance_change=1e-14,
                            line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = 0.5 * (w**2).sum() + C * F.cross_entropy(
            xs @ w + b, labels, reduction='sum')
        loss.backward()
        return loss

    opt.step(closure)
    return (xq @ w + b).softmax(1).detach()


@pytest.mark.parametrize('C', [0.1, 2.0])
def test_against_direct_fit(C):
    g = torch.Generator().manual_seed(0)
    support = torch.randn(6, 4, generator=g)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    query = torch.randn(5, 4, generator=g)
    out = LogisticRegressionHead(C=C).predict_episode(support, labels, query)
    ref = _reference(support, labels, query, C)
    assert out.shape == (5, 3)
    # scikit-learn stops at its default tol=1e-4 (as the authors)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=2e-3)


def test_bad_C_named():
    with pytest.raises(ValueError, match="LogisticRegressionHead: C='2'"):
        LogisticRegressionHead(C='2')
