"""Temporal causality and sparsity loss for attention masks of a recurrent
policy.

The objective of TSCI's causal discovery network (`Temporal-Spatial Causal
Interpretations for Vision-Based Reinforcement Learning
<https://arxiv.org/abs/2112.03020>`_, Shi et al., TPAMI) in mmext's reading:
the frozen agent, fed the masked history ``o_{t-K+1..t}`` and then the
unmasked observations ``o_{t+1..t+L}``, keeps the decisions it takes on the
unmasked sequence at ``t..t+L`` (the temporal causality constraint), while
the masks stay small (an L1 sparsity penalty). With ``L = 0``,
``history_weight = 0`` and ``divergence='mse'`` it is the loss of SSINet
(Shi et al., TPAMI 2020): the MSE between the action probabilities on the
masked and the unmasked input plus ``lambda`` times the masks' L1 norm.
"""
from typing import Dict

import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


@MODELS.register_module()
class TemporalCausalMaskLoss(nn.Module):
    """``fidelity_weight * sum_i w_i D(pi_i, pi'_i) / sum_i w_i +
    sparsity_weight * mean(M)``.

    ``pi_i`` and ``pi'_i`` are the policy's action distributions at
    sequence position ``i`` on the unmasked and on the masked sequence. The
    first ``K`` positions (``K`` = number of masks per sequence) are the
    masked history, the last of them is the decision step ``t``; the
    remaining ``L`` positions are the unmasked following steps. Weights:
    ``w_i = history_weight`` for the ``K - 1`` history steps before ``t``
    and ``w_i = future_discount ** j`` for step ``t + j`` (``j = 0..L``).

    Args:
        divergence (str): ``'kl'``: ``KL(pi || pi')`` summed over actions;
            ``'mse'``: mean squared difference of the action probabilities
            (SSINet). Defaults to ``'kl'``.
        fidelity_weight (float): Weight of the decision term. Defaults to 1.
        sparsity_weight (float): Weight of the L1 penalty ``mean(M)``.
            Defaults to 0.005 (SSINet's Atari value).
        history_weight (float): Weight of each decision inside the masked
            history before ``t``. Defaults to 0.
        future_discount (float): Discount of the decisions after ``t``;
            0 keeps only the decision at ``t``. Defaults to 1.

    Shapes:
        - ref_logits: ``(B, T, A)`` logits on the unmasked sequence (no
          gradient is taken)
        - logits: ``(B, T, A)`` logits on the masked sequence
        - masks: ``(B, K, H, W)`` masks in ``[0, 1]``, ``1 <= K <= T``
        - output: dict of scalars ``loss_causal`` and ``loss_sparsity``
    """

    def __init__(self,
                 divergence: str = 'kl',
                 fidelity_weight: float = 1.0,
                 sparsity_weight: float = 0.005,
                 history_weight: float = 0.0,
                 future_discount: float = 1.0) -> None:
        super().__init__()
        self.divergence = check_arg(self, 'divergence', divergence,
                                    choices=('kl', 'mse'))
        self.fidelity_weight = float(
            check_arg(self, 'fidelity_weight', fidelity_weight, float,
                      low=0))
        self.sparsity_weight = float(
            check_arg(self, 'sparsity_weight', sparsity_weight, float,
                      low=0))
        self.history_weight = float(
            check_arg(self, 'history_weight', history_weight, float, low=0))
        self.future_discount = float(
            check_arg(self, 'future_discount', future_discount, float,
                      low=0))

    def step_weights(self, num_masks: int, seq_len: int) -> torch.Tensor:
        """``(seq_len,)`` weights ``w_i`` of the decision terms."""
        if not 1 <= num_masks <= seq_len:
            raise ValueError(
                f'{type(self).__name__}: {num_masks} masks for a sequence '
                f'of {seq_len} steps; expected 1 <= masks <= steps')
        future = self.future_discount**torch.arange(
            seq_len - num_masks + 1, dtype=torch.float64)
        history = torch.full((num_masks - 1, ), self.history_weight,
                             dtype=torch.float64)
        return torch.cat([history, future])

    def forward(self, ref_logits: torch.Tensor, logits: torch.Tensor,
                masks: torch.Tensor) -> Dict[str, torch.Tensor]:
        if ref_logits.shape != logits.shape or logits.dim() != 3:
            raise ValueError(
                f'{type(self).__name__}: expected (B, T, A) logits of equal '
                f'shape, got {tuple(ref_logits.shape)} and '
                f'{tuple(logits.shape)}')
        weights = self.step_weights(masks.shape[1],
                                    logits.shape[1]).to(logits)
        log_p = F.log_softmax(ref_logits.detach(), dim=-1)
        log_q = F.log_softmax(logits, dim=-1)
        if self.divergence == 'kl':
            div = (log_p.exp() * (log_p - log_q)).sum(-1)
        else:
            div = (log_p.exp() - log_q.exp()).pow(2).mean(-1)
        causal = (div.mean(0) * weights).sum() / weights.sum()
        return dict(
            loss_causal=self.fidelity_weight * causal,
            loss_sparsity=self.sparsity_weight * masks.mean())
