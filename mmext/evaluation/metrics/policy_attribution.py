"""Fidelity of saliency maps and attention masks of a policy.

The measures of TSCI (Shi et al., arXiv 2112.03020) and its baselines in
mmext: how well the agent keeps its decisions when it sees only the region
a mask keeps, compared with random masks of exactly the same area; the
deletion and insertion curves of Petsiuk et al. (RISE, BMVC 2018), where
the most salient input elements are removed from the input (or inserted
into an empty one) step by step; and the overlap of the kept region with
ground-truth relevant objects.
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from mmext.registry import METRICS

from .checked_metric import CheckedMetric

__all__ = [
    'action_fidelity', 'top_k_masks', 'random_masks', 'mask_overlap',
    'mask_coverage', 'deletion_insertion_curves', 'curve_auc', 'PolicyAttributionMetric'
]


def action_fidelity(ref_logits: torch.Tensor,
                    logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Action agreement and ``KL(pi_ref || pi)`` of two policies' outputs.

    Args:
        ref_logits (Tensor): ``(..., A)`` logits of the reference decisions.
        logits (Tensor): ``(..., A)`` logits of the perturbed input.

    Returns:
        tuple[Tensor, Tensor]: ``(...)`` agreement of the greedy actions
        (1.0 or 0.0) and ``(...)`` KL divergence in nats.
    """
    agree = (ref_logits.argmax(-1) == logits.argmax(-1)).to(logits.dtype)
    log_p = F.log_softmax(ref_logits, -1)
    log_q = F.log_softmax(logits, -1)
    return agree, (log_p.exp() * (log_p - log_q)).sum(-1)


def top_k_masks(saliency: torch.Tensor, area: int,
                num_dims: int = 2) -> torch.Tensor:
    """Binary masks keeping the ``area`` most salient elements.

    Args:
        saliency (Tensor): ``(*lead, *S)`` saliency; the last ``num_dims``
            dimensions ``S`` form one map.
        area (int): Elements kept per map, ``0 <= area <= prod(S)``.
        num_dims (int): Dimensions per map. Defaults to 2 (``H, W``).

    Returns:
        Tensor: ``(*lead, *S)`` float masks with exactly ``area`` ones per
        map (ties broken by position).
    """
    flat = saliency.flatten(-num_dims)
    idx = flat.topk(area, dim=-1).indices
    masks = torch.zeros_like(flat, dtype=torch.float32)
    return masks.scatter_(-1, idx, 1.0).view(saliency.shape)


def random_masks(shape: Sequence[int],
                 area: int,
                 num_dims: int = 2,
                 generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Uniformly random binary masks with exactly ``area`` ones per map.

    Args:
        shape (Sequence[int]): ``(*lead, *S)``; the last ``num_dims``
            dimensions form one map.
        area (int): Ones per map.
        num_dims (int): Dimensions per map. Defaults to 2.
        generator (torch.Generator, optional): Random generator.

    Returns:
        Tensor: ``shape`` float masks.
    """
    shape = tuple(shape)
    return top_k_masks(torch.rand(shape, generator=generator), area,
                       num_dims)


def mask_overlap(masks: torch.Tensor, relevance: torch.Tensor) -> torch.Tensor:
    """Fraction of each sample's kept area that lies on relevant elements.

    Args:
        masks (Tensor): ``(B, *S)`` binary (or soft) masks.
        relevance (Tensor): ``(B, *S)`` binary ground-truth relevance.

    Returns:
        Tensor: ``(B,)`` ``sum(M * R) / sum(M)`` per sample (NaN for an
        empty mask).
    """
    masks, relevance = masks.flatten(1).float(), relevance.flatten(1).float()
    return (masks * relevance).sum(1) / masks.sum(1)


def mask_coverage(masks: torch.Tensor,
                  relevance: torch.Tensor) -> torch.Tensor:
    """Fraction of each sample's relevant elements that the mask keeps.

    Args:
        masks (Tensor): ``(B, *S)`` binary (or soft) masks.
        relevance (Tensor): ``(B, *S)`` binary ground-truth relevance.

    Returns:
        Tensor: ``(B,)`` ``sum(M * R) / sum(R)`` per sample (NaN without
        relevant elements).
    """
    return mask_overlap(relevance, masks)


@torch.no_grad()
def deletion_insertion_curves(
        score_fn: Callable[[torch.Tensor], torch.Tensor],
        inputs: torch.Tensor,
        saliency: torch.Tensor,
        num_steps: int,
        baseline: float = 0.0) -> Tuple[torch.Tensor, torch.Tensor]:
    """Deletion and insertion curves (Petsiuk et al., RISE, Sec. 4.1).

    Step ``s`` of the deletion curve replaces the ``round(s / num_steps *
    N)`` most salient of the ``N`` saliency elements by ``baseline``; the
    insertion curve starts from ``baseline`` everywhere and puts them back.
    Saliency elements broadcast over the input (e.g. one saliency value for
    all channels of a pixel: ``saliency`` of shape ``(B, K, 1, H, W)`` for
    ``(B, K, C, H, W)`` inputs). Ties are broken by position.

    Args:
        score_fn (Callable): Maps a ``(B, ...)`` input batch to ``(B,)``
            scores (e.g. the probability of the unperturbed decision).
        inputs (Tensor): ``(B, ...)`` inputs.
        saliency (Tensor): ``(B, ...)`` saliency, broadcastable to
            ``inputs``.
        num_steps (int): Number of steps; curves have ``num_steps + 1``
            points at fractions ``0, 1 / num_steps, ..., 1``.
        baseline (float): Value of removed elements. Defaults to 0.

    Returns:
        tuple[Tensor, Tensor]: ``(B, num_steps + 1)`` deletion and insertion
        curves.
    """
    B = saliency.shape[0]
    flat = saliency.reshape(B, -1)
    n = flat.shape[1]
    order = flat.argsort(dim=1, descending=True, stable=True)
    rank = torch.empty_like(order)
    rank.scatter_(1, order,
                  torch.arange(n, device=order.device).expand(B, n))
    rank = rank.view(saliency.shape)
    base = torch.full_like(inputs, baseline)
    deletion, insertion = [], []
    for s in range(num_steps + 1):
        top = rank < round(s / num_steps * n)
        deletion.append(score_fn(torch.where(top, base, inputs)))
        insertion.append(score_fn(torch.where(top, inputs, base)))
    return torch.stack(deletion, 1), torch.stack(insertion, 1)


def curve_auc(curves: torch.Tensor) -> torch.Tensor:
    """``(B, S + 1)`` curves on ``[0, 1]`` -> ``(B,)`` trapezoid areas."""
    steps = curves.shape[1] - 1
    return (curves[:, 1:] + curves[:, :-1]).sum(1) / (2 * steps)


@METRICS.register_module()
class PolicyAttributionMetric(CheckedMetric):
    """Decision fidelity of masks against random masks of equal area.

    Each data sample is a dict with

    - ``ref_logits``: ``(T, A)`` the agent's logits on the unperturbed input
      at the ``T`` evaluated decisions;
    - ``masked_logits`` / ``random_logits``: ``(T, A)`` its logits when it
      sees only the region a mask keeps / a random mask of the same area;
    - optional ``deletion`` / ``insertion``: ``(S + 1,)`` curves of
      :func:`deletion_insertion_curves`;
    - optional ``overlap`` / ``random_overlap``: the :func:`mask_overlap`
      of the mask / the random mask with relevant objects, and
      ``coverage`` / ``random_coverage``: their :func:`mask_coverage`.

    Reports ``agreement``, ``kl``, ``random_agreement``, ``random_kl``
    (means over samples and decisions) and, where the samples carry them,
    ``deletion_auc``, ``insertion_auc``, ``overlap``, ``random_overlap``,
    ``coverage``, ``random_coverage``.

    Args:
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): Metric name prefix. Defaults to
            ``'attribution'``.
    """
    default_prefix = 'attribution'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's mean agreement and KL, AUCs and overlaps."""
        for sample in data_samples:
            ref = torch.as_tensor(sample['ref_logits']).double()
            result = {}
            for key in ('masked', 'random'):
                agree, kl = action_fidelity(
                    ref, torch.as_tensor(sample[f'{key}_logits']).double())
                name = '' if key == 'masked' else 'random_'
                result[f'{name}agreement'] = agree.mean().item()
                result[f'{name}kl'] = kl.mean().item()
            for key in ('deletion', 'insertion'):
                if key in sample:
                    curve = torch.as_tensor(sample[key]).double()[None]
                    result[f'{key}_auc'] = curve_auc(curve).item()
            for key in ('overlap', 'random_overlap', 'coverage',
                        'random_coverage'):
                if key in sample:
                    result[key] = float(sample[key])
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Means over samples (overlaps and coverages ignore NaNs: samples
        without objects)."""
        keys = dict.fromkeys(k for r in results for k in r)
        return {
            k: float(np.nanmean([r[k] for r in results if k in r]))
            for k in keys
        }
