"""GFNetPolicy and the PPO update against hand computations."""
import math

import pytest
import torch

from mmext.models.heads import GFNetPolicy
from mmext.models.heads.gfnet_policy import discounted_returns, ppo_loss


def test_discounted_returns_by_hand():
    rewards = torch.tensor([[1., 2.], [3., 4.], [5., 6.]])
    # R_2 = r_2; R_1 = r_1 + 0.5 R_2; R_0 = r_0 + 0.5 R_1
    expected = torch.tensor([[3.75, 5.5], [5.5, 7.], [5., 6.]])
    assert torch.allclose(
        discounted_returns(rewards, 0.5, normalize=False), expected)
    values = [3.75, 5.5, 5.5, 7., 5., 6.]
    mean = sum(values) / 6
    std = math.sqrt(sum((v - mean)**2 for v in values) / 5)  # unbiased
    normed = (expected - mean) / (std + 1e-5)
    assert torch.allclose(discounted_returns(rewards, 0.5), normed)


def test_value_loss_and_unit_ratio_by_hand():
    logp = torch.zeros(1, 2)
    values = torch.tensor([[0.5, -1.0]])
    returns = torch.tensor([[1.0, 1.0]])
    entropy = torch.tensor([[2.0, 4.0]])
    loss, terms = ppo_loss(logp, logp, values, returns, entropy)
    # ratio 1: policy term -mean(A) = -mean(0.5, 2.0) = -1.25
    # value: mean(0.25, 4) = 2.125; entropy mean 3
    assert terms['policy'].item() == pytest.approx(-1.25)
    assert terms['value'].item() == pytest.approx(2.125)
    assert loss.item() == pytest.approx(-1.25 + 0.5 * 2.125 - 0.01 * 3)
    assert terms['clip_fraction'].item() == 0


def _policy_grad(log_ratio: float, advantage: float) -> float:
    """d loss / d logprob for one sample of the given ratio and advantage
    (value 0, so the advantage is the return)."""
    logp = torch.tensor([[log_ratio]], requires_grad=True)
    loss, _ = ppo_loss(logp, torch.zeros(1, 1), torch.zeros(1, 1),
                       torch.tensor([[advantage]]), torch.zeros(1, 1),
                       value_coef=0, entropy_coef=0)
    loss.backward()
    return logp.grad.item()


def test_advantage_sign():
    # descending the loss raises the probability of an action with A > 0
    # and lowers it for A < 0: d loss / d logp = -r A at r = 1
    assert _policy_grad(0., 2.) == pytest.approx(-2.)
    assert _policy_grad(0., -2.) == pytest.approx(2.)


def test_clipping():
    up, down = math.log(1.5), math.log(0.5)
    # r = 1.5 > 1.2 with A > 0 and r = 0.5 < 0.8 with A < 0: clipped, the
    # objective is flat in logp
    assert _policy_grad(up, 1.) == 0
    assert _policy_grad(down, -1.) == 0
    # the pessimistic side is not clipped: -r A
    assert _policy_grad(up, -1.) == pytest.approx(1.5)
    assert _policy_grad(down, 1.) == pytest.approx(-0.5)
    _, terms = ppo_loss(
        torch.tensor([[up, 0.]]), torch.zeros(1, 2), torch.zeros(1, 2),
        torch.ones(1, 2), torch.zeros(1, 2))
    assert terms['clip_fraction'].item() == 0.5


@pytest.mark.parametrize('encoder', ['mlp', 'conv'])
def test_act_and_evaluate_agree(encoder):
    """The log-probabilities recorded while acting step by step equal those
    of the sequence re-evaluation (so the first PPO epoch has ratio 1) and
    the Gaussian density with std 0.1 written out."""
    torch.manual_seed(0)
    policy = GFNetPolicy(8, 2, encoder=encoder, hidden_dim=16)
    states = torch.randn(3, 4, 8, 2, 2)
    hidden, actions, logps = None, [], []
    for state in states:
        action, logp, hidden = policy.act(state, hidden, sample=True)
        actions.append(action)
        logps.append(logp)
    actions, logps = torch.stack(actions), torch.stack(logps)
    assert ((actions >= 0) & (actions <= 1)).all()
    logprobs, values, entropy = policy.evaluate(states, actions)
    assert torch.allclose(logprobs, logps, atol=1e-5)
    assert values.shape == (3, 4)
    # entropy of a 2-D Gaussian with std 0.1: 2 (0.5 + 0.5 log 2 pi + log s)
    assert torch.allclose(
        entropy,
        torch.full((3, 4), 1 + math.log(2 * math.pi) + 2 * math.log(0.1)))
    mean, _, _ = policy.act(states[0], None)
    density = -((actions[0] - mean)**2).sum(-1) / (2 * 0.01) - 2 * math.log(
        0.1) - math.log(2 * math.pi)
    assert torch.allclose(logps[0], density, atol=1e-5)


def test_update_raises_probability_of_rewarded_action():
    torch.manual_seed(0)
    policy = GFNetPolicy(4, 1, encoder='conv', hidden_dim=8)
    states = torch.randn(1, 2, 4, 1, 1)
    actions = torch.tensor([[[0.9, 0.9], [0.1, 0.1]]])
    returns = torch.tensor([[1.0, -1.0]])
    optim = torch.optim.SGD(policy.parameters(), lr=0.1)
    before, _, _ = policy.evaluate(states, actions)
    logp, values, entropy = policy.evaluate(states, actions)
    loss, _ = ppo_loss(logp, logp.detach(), values, returns, entropy,
                       value_coef=0)
    loss.backward()
    optim.step()
    after, _, _ = policy.evaluate(states, actions)
    assert after[0, 0] > before[0, 0]
    assert after[0, 1] < before[0, 1]
