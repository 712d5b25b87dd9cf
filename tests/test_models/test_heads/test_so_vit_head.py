"""So-ViT head: cross-covariance against a slow loop, svPN against an SVD
closed form (converged) and a hand-written power-iteration step."""
import numpy as np
import pytest
import torch

from mmext.models.heads import SoViTHead
from mmext.models.heads.so_vit_head import sv_power_norm
from mmext.ops.cov_sqrt import cross_cov_pool


def test_cross_cov_pool_matches_loop():
    g = torch.Generator().manual_seed(0)
    x1 = torch.randn(2, 4, 7, generator=g, dtype=torch.float64)
    x2 = torch.randn(2, 3, 7, generator=g, dtype=torch.float64)
    a, b = x1.numpy(), x2.numpy()
    ref = np.zeros((2, 4, 3))
    for n in range(2):
        for i in range(4):
            for j in range(3):
                ma, mb = a[n, i].mean(), b[n, j].mean()
                ref[n, i, j] = sum((a[n, i, m] - ma) * (b[n, j, m] - mb)
                                   for m in range(7)) / 7
    out = cross_cov_pool(x1, x2)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)
    # (B, C, H, W) input and the symmetric special case equal numpy.cov
    out4 = cross_cov_pool(x1.view(2, 4, 7, 1), x1.view(2, 4, 1, 7))
    np.testing.assert_allclose(
        out4[1].numpy(), np.cov(a[1], bias=True), rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(cross_cov_pool, (x1.requires_grad_(),
                                                     x2.requires_grad_()))
    with pytest.raises(ValueError):
        cross_cov_pool(x1, x2[..., :5])


def test_sv_power_norm_converged_matches_svd():
    g = torch.Generator().manual_seed(1)
    u, _ = torch.linalg.qr(torch.randn(5, 5, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=torch.float64))
    sig = torch.tensor([4.0, 1.0, 0.5, 0.2], dtype=torch.float64)
    x = (u[:, :4] * sig) @ v.T
    x = x.unsqueeze(0)
    v0 = torch.randn(5, generator=g, dtype=torch.float64)
    alpha, eps = 0.5, 1e-5
    out = sv_power_norm(x, v0, alpha=alpha, num_iter=60, eps=eps)
    uu, ss, vh = torch.linalg.svd(x[0])
    f = ss / (ss[0]**(1 - alpha) + eps)
    f[0] = ss[0]**alpha
    ref = (uu[:, :4] * f) @ vh
    torch.testing.assert_close(out[0], ref, rtol=1e-9, atol=1e-9)


def test_sv_power_norm_one_step_by_hand():
    x = np.array([[2.0, 0.0, 1.0], [1.0, 3.0, 0.0]])  # (C1=2, C2=3)
    v0 = np.array([1.0, -2.0])
    q = x.T @ v0
    q = q / np.sqrt((q**2).sum())
    p = x @ q
    p = p / np.sqrt((p**2).sum())
    s = p @ x @ q
    top = np.outer(p, q)
    ref = np.sqrt(s) * top + (x - s * top) / (np.sqrt(s) + 1e-5)
    out = sv_power_norm(
        torch.from_numpy(x)[None], torch.from_numpy(v0), alpha=0.5,
        num_iter=1)
    np.testing.assert_allclose(out[0].numpy(), ref, rtol=1e-12)


def test_head_logits_decompose():
    torch.manual_seed(0)
    head = SoViTHead(num_classes=3, in_channels=8, reduced_channels=(4, 2))
    head.init_weights()
    head.eval()
    cls_token, tokens = torch.randn(2, 8), torch.randn(2, 8, 3, 3)
    logits = head(((cls_token, tokens), ))
    x1 = head.branch1(tokens).flatten(2)
    x2 = head.branch2(tokens).flatten(2)
    cov = torch.einsum('bim,bjm->bij', x1 - x1.mean(2, keepdim=True),
                       x2 - x2.mean(2, keepdim=True)) / 9
    z = sv_power_norm(cov, head.sv_vector).flatten(1)
    ref = head.fc_cls(cls_token) + head.fc_vis(z)
    torch.testing.assert_close(logits, ref)
    # all-zero tokens (dead ReLU branches) keep finite gradients
    head.train()
    zero = torch.zeros(2, 8, 3, 3, requires_grad=True)
    head(((cls_token, zero), )).sum().backward()
    assert torch.isfinite(head.sv_vector.grad).all()
