"""GFNet's patch proposal network: a PPO actor-critic with a GRU.

Wang et al., "Glance and Focus: a Dynamic Approach to Reducing Spatial
Redundancy in Image Classification", NeurIPS 2020, Sec. 3.3; layer layout
and defaults of the authors' ``network.py`` (``ActorCritic``, ``PPO``), so
their ``policy`` state dicts load unchanged.

The state of step ``t + 1`` is the last feature map of step ``t``'s encoder.
It is encoded (an MLP for ResNet / DenseNet, a 1x1 convolution to 32
channels and a linear layer for MobileNetV3 / EfficientNet / RegNet), run
through a GRU whose hidden state is carried across the steps of one image,
and the actor gives the mean in ``[0, 1]^2`` of a Gaussian with a fixed
standard deviation (0.1; the authors pass ``action_std`` as ``scale_tril``,
so it is the std) over the (row, column) patch position. The critic is a
linear layer on the same GRU output.

PPO (Schulman et al., 2017, Eq. (7) and (9)) with the authors' settings:
discount ``gamma = 0.7`` over the steps of one image, returns normalised over
the batch, advantage ``A = R - V`` (no GAE), clip 0.2, value coefficient 0.5
and entropy coefficient 0.01. The authors update once per batch right after
the rollout, so the probability ratio is exactly 1 and the clip never acts;
``epochs > 1`` (:class:`~mmext.models.classifiers.GFNet`'s ``ppo_epochs``)
makes it act.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor, nn
from torch.distributions import Normal

from mmext.registry import MODELS
from mmext.utils.validation import check_arg

__all__ = ['GFNetPolicy', 'discounted_returns', 'ppo_loss']


def discounted_returns(rewards: Tensor,
                       gamma: float,
                       normalize: bool = True,
                       eps: float = 1e-5) -> Tensor:
    """Returns ``R_t = r_t + gamma R_{t+1}`` of each sample's steps.

    Args:
        rewards (Tensor): ``(S, N)`` rewards of ``S`` steps of ``N`` samples.
        gamma (float): Discount factor.
        normalize (bool): Standardise over all ``S x N`` returns (the
            authors': ``(R - mean) / (std + eps)``, unbiased std).
        eps (float): Added to the std.

    Returns:
        Tensor: ``(S, N)`` returns.
    """
    returns = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * running
        returns[t] = running
    if normalize:
        returns = (returns - returns.mean()) / (returns.std() + eps)
    return returns


def ppo_loss(logprobs: Tensor,
             old_logprobs: Tensor,
             values: Tensor,
             returns: Tensor,
             entropy: Tensor,
             clip: float = 0.2,
             value_coef: float = 0.5,
             entropy_coef: float = 0.01) -> Tuple[Tensor, dict]:
    """The clipped PPO objective of the authors' ``PPO.update``.

    ``loss = mean(-min(r A, clip(r, 1 - eps, 1 + eps) A)) +
    value_coef * mean((V - R)^2) - entropy_coef * mean(H)`` with
    ``r = exp(logprob - old_logprob)`` and ``A = R - V`` (``V`` detached in
    ``A``).

    Args:
        logprobs (Tensor): ``(S, N)`` log-probabilities of the taken actions
            under the policy being trained.
        old_logprobs (Tensor): ``(S, N)`` the same under the policy that
            acted (no gradient).
        values (Tensor): ``(S, N)`` critic values.
        returns (Tensor): ``(S, N)`` returns (:func:`discounted_returns`).
        entropy (Tensor): ``(S, N)`` entropies of the action distributions.
        clip (float): ``eps`` of the ratio clip.
        value_coef (float): Weight of the value loss.
        entropy_coef (float): Weight of the entropy bonus.

    Returns:
        tuple[Tensor, dict]: the scalar loss, and its ``policy``, ``value``
        and ``entropy`` terms (detached) with the fraction of clipped ratios
        ``clip_fraction``.
    """
    ratios = torch.exp(logprobs - old_logprobs.detach())
    advantages = returns - values.detach()
    surrogate = torch.min(ratios * advantages,
                          ratios.clamp(1 - clip, 1 + clip) * advantages)
    policy_loss = -surrogate.mean()
    value_loss = (values - returns).pow(2).mean()
    entropy = entropy.mean()
    loss = policy_loss + value_coef * value_loss - entropy_coef * entropy
    clipped = ((ratios - 1).abs() > clip).float().mean()
    return loss, dict(
        policy=policy_loss.detach(),
        value=value_loss.detach(),
        entropy=entropy.detach(),
        clip_fraction=clipped.detach())


@MODELS.register_module()
class GFNetPolicy(nn.Module):
    """Actor-critic choosing the next patch from the last feature map.

    Args:
        in_channels (int): ``C`` of the feature map (the encoder's last
            stage: 2048 for ResNet-50, 960 for MobileNetV3-Large).
        state_size (int): ``h = w`` of the feature map (``ceil(P / 32)``).
        encoder (str): ``'mlp'`` (ResNet / DenseNet): Linear(C h w, 2048),
            ReLU, Linear(2048, hidden), ReLU; ``'conv'`` (MobileNetV3 /
            EfficientNet / RegNet): Conv1x1(C, 32, no bias), ReLU,
            Linear(32 h w, hidden), ReLU.
        hidden_dim (int): GRU size (authors: 1024 with ``'mlp'``, 256 with
            ``'conv'``).
        action_std (float): Standard deviation of the Gaussian policy.

    Shapes:
        - state: ``(N, C, h, w)``; hidden: ``(1, N, hidden_dim)``.
        - action: ``(N, 2)`` (row, column) in ``[0, 1]``.
    """

    def __init__(self,
                 in_channels: int,
                 state_size: int,
                 encoder: str = 'mlp',
                 hidden_dim: int = 1024,
                 action_std: float = 0.1) -> None:
        check_arg(self, 'in_channels', in_channels, int, low=1)
        check_arg(self, 'state_size', state_size, int, low=1)
        check_arg(self, 'encoder', encoder, choices=('mlp', 'conv'))
        check_arg(self, 'hidden_dim', hidden_dim, int, low=1)
        check_arg(self, 'action_std', action_std, float, low=0, low_open=True)
        super().__init__()
        positions = state_size * state_size
        if encoder == 'mlp':
            self.state_encoder = nn.Sequential(
                nn.Linear(in_channels * positions, 2048), nn.ReLU(),
                nn.Linear(2048, hidden_dim), nn.ReLU())
        else:
            self.state_encoder = nn.Sequential(
                nn.Conv2d(in_channels, 32, 1, bias=False), nn.ReLU(),
                nn.Flatten(), nn.Linear(32 * positions, hidden_dim),
                nn.ReLU())
        self.gru = nn.GRU(hidden_dim, hidden_dim)
        self.actor = nn.Sequential(nn.Linear(hidden_dim, 2), nn.Sigmoid())
        self.critic = nn.Sequential(nn.Linear(hidden_dim, 1))
        self.encoder = encoder
        self.hidden_dim = hidden_dim
        self.action_std = action_std

    def _encode(self, states: Tensor) -> Tensor:
        """``(B, C, h, w)`` -> ``(B, hidden_dim)``."""
        if self.encoder == 'mlp':
            states = states.flatten(1)
        return self.state_encoder(states)

    def _distribution(self, mean: Tensor) -> Normal:
        # no argument validation: it syncs with the device at every step
        return Normal(
            mean, torch.full_like(mean, self.action_std), validate_args=False)

    def act(self,
            state: Tensor,
            hidden: Optional[Tensor] = None,
            sample: bool = False
            ) -> Tuple[Tensor, Optional[Tensor], Tensor]:
        """One step: the patch position and the new hidden state.

        Args:
            state (Tensor): ``(N, C, h, w)`` last feature map.
            hidden (Tensor, optional): ``(1, N, hidden_dim)``; None (zeros)
                at the first focus step.
            sample (bool): Sample from the Gaussian and clip to ``[0, 1]``
                (training); otherwise the mean (test).

        Returns:
            tuple: ``(N, 2)`` action, ``(N,)`` its log-probability (of the
            clipped sample, as the authors; None when not sampling) and
            ``(1, N, hidden_dim)`` hidden state.
        """
        out, hidden = self.gru(self._encode(state)[None], hidden)
        mean = self.actor(out[0])
        if not sample:
            return mean, None, hidden
        dist = self._distribution(mean)
        action = dist.sample().clamp(0, 1)
        return action, dist.log_prob(action).sum(-1), hidden

    def evaluate(self, states: Tensor,
                 actions: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Re-run the policy over whole sequences (the PPO update).

        Args:
            states (Tensor): ``(S, N, C, h, w)`` the states of ``S`` focus
                steps.
            actions (Tensor): ``(S, N, 2)`` the actions taken.

        Returns:
            tuple[Tensor, Tensor, Tensor]: ``(S, N)`` log-probabilities of
            ``actions``, critic values and entropies.
        """
        steps, num = states.shape[:2]
        encoded = self._encode(states.flatten(0, 1)).view(steps, num, -1)
        out, _ = self.gru(encoded)
        dist = self._distribution(self.actor(out))
        return (dist.log_prob(actions).sum(-1), self.critic(out)[..., 0],
                dist.entropy().sum(-1))
