"""grad_scale: identity forward, the incoming gradient times the scale
backward, nothing else changed."""
import torch

from mmext.models.utils import grad_scale


def test_identity_forward_scaled_backward():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, generator=gen, dtype=torch.float64,
                    requires_grad=True)
    upstream = torch.randn(3, 5, generator=gen, dtype=torch.float64)
    y = grad_scale(x * 2, 4.1231)
    assert torch.equal(y, x.detach() * 2)
    y.backward(upstream)
    assert torch.equal(x.grad, upstream * 4.1231 * 2)


def test_only_the_scaled_branch_changes():
    x = torch.tensor([1.5, -2.0], requires_grad=True)
    (x.sum() + grad_scale(x, 3.0).pow(2).sum()).backward()
    assert torch.equal(x.grad, 1 + 3.0 * 2 * x.detach())


def test_scale_one_and_no_grad_return_the_input():
    x = torch.ones(2, requires_grad=True)
    assert grad_scale(x, 1.0) is x
    with torch.no_grad():
        assert grad_scale(x, 2.0) is x
