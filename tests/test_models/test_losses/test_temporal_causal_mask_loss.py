"""TemporalCausalMaskLoss against a slow loop with scipy's KL divergence."""
import numpy as np
import pytest
import torch
from scipy.special import softmax
from scipy.stats import entropy

from mmext.registry import MODELS


def slow_loss(ref, lg, masks, divergence, hist_w, gamma, fid_w, sp_w):
    B, T, _ = ref.shape
    K = masks.shape[1]
    num = den = 0.0
    for i in range(T):
        w = hist_w if i < K - 1 else gamma**(i - K + 1)
        for b in range(B):
            p, q = softmax(ref[b, i]), softmax(lg[b, i])
            d = entropy(p, q) if divergence == 'kl' else np.mean((p - q)**2)
            num += w * d / B
        den += w
    return fid_w * num / den, sp_w * masks.mean()


@pytest.mark.parametrize('divergence,hist_w,gamma', [('kl', 0.0, 1.0),
                                                     ('kl', 0.5, 0.9),
                                                     ('mse', 0.2, 0.0)])
def test_matches_slow_loop(divergence, hist_w, gamma):
    rng = np.random.default_rng(0)
    ref, lg = rng.normal(size=(2, 2, 6, 4)) * 2
    masks = rng.uniform(size=(3 - 1, 3, 5, 5))
    loss = MODELS.build(
        dict(type='TemporalCausalMaskLoss', divergence=divergence,
             fidelity_weight=2.0, sparsity_weight=0.01,
             history_weight=hist_w, future_discount=gamma))
    out = loss(torch.from_numpy(ref), torch.from_numpy(lg),
               torch.from_numpy(masks))
    causal, sparsity = slow_loss(ref, lg, masks, divergence, hist_w, gamma,
                                 2.0, 0.01)
    np.testing.assert_allclose(out['loss_causal'].item(), causal, rtol=1e-9)
    np.testing.assert_allclose(out['loss_sparsity'].item(), sparsity,
                               rtol=1e-12)


def test_gradient_reaches_masked_logits_and_masks_only():
    loss = MODELS.build(dict(type='TemporalCausalMaskLoss'))
    ref = torch.randn(2, 5, 3, requires_grad=True)
    lg = torch.randn(2, 5, 3, requires_grad=True)
    masks = torch.rand(2, 3, 4, 4, requires_grad=True)
    sum(loss(ref, lg, masks).values()).backward()
    assert ref.grad is None
    assert lg.grad.abs().sum() > 0 and masks.grad.abs().sum() > 0
    # identical distributions: no decision loss
    out = loss(lg.detach(), lg.detach(), masks.detach())
    assert out['loss_causal'].item() == pytest.approx(0.0, abs=1e-7)


def test_more_masks_than_steps_is_refused():
    loss = MODELS.build(dict(type='TemporalCausalMaskLoss'))
    with pytest.raises(ValueError, match='5 masks for a sequence of 3'):
        loss(torch.zeros(1, 3, 2), torch.zeros(1, 3, 2),
             torch.zeros(1, 5, 2, 2))
