"""Prototype matching for few-shot episodes (ProtoNet; DeepBDC, TAMT).

The prototype of a class is the mean of its support features; a query's
score for a class is its similarity to the prototype. DeepBDC and TAMT use
the inner product for 1-shot episodes and the negative squared Euclidean
distance otherwise, with no scale (DeepBDC issue #16): ``metric='auto'``.
"""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.validation import check_arg

__all__ = ['PrototypeHead', 'check_episode_features']

METRICS = ('auto', 'dot', 'neg_sq_euclidean', 'cosine')


def check_episode_features(owner: str, support: Tensor, support_labels: Tensor,
                           query: Tensor) -> int:
    """Check an episode's tensors; return its number of ways ``N``.

    Raises:
        ValueError: shapes disagree, labels are not ``0 .. N - 1`` each with
            a support sample, or a feature is NaN/Inf (naming the tensor and
            the config key of the feature extractor, ``model.neck``).
    """
    if support.dim() != 2 or query.dim() != 2 or \
            support.size(1) != query.size(1):
        raise ValueError(
            f'{owner}: support features {tuple(support.shape)} and query '
            f'features {tuple(query.shape)} must be (S, D) and (Q, D)')
    if support_labels.shape != (support.size(0), ):
        raise ValueError(
            f'{owner}: support_labels {tuple(support_labels.shape)} must be '
            f'({support.size(0)}, )')
    for name, t in (('support', support), ('query', query)):
        if not torch.isfinite(t).all():
            bad = int((~torch.isfinite(t)).sum())
            raise ValueError(
                f'{owner}: {name} features hold {bad} NaN/Inf values; the '
                'features come from model.backbone / model.neck (a diverged '
                'model or a bad checkpoint)')
    num_ways = int(support_labels.max()) + 1
    present = torch.bincount(support_labels, minlength=num_ways)
    if int(support_labels.min()) < 0 or bool((present == 0).any()):
        raise ValueError(
            f'{owner}: support_labels must cover 0 .. N - 1, got '
            f'{sorted(set(support_labels.tolist()))}')
    return num_ways


@MODELS.register_module()
class PrototypeHead(nn.Module):
    """Scores of queries against class prototypes, and the episode loss.

    Args:
        metric (str): ``'auto'`` (inner product when every class has one
            support sample, else negative squared Euclidean distance, as the
            DeepBDC authors), ``'dot'``, ``'neg_sq_euclidean'`` or
            ``'cosine'``. Defaults to ``'auto'``.
        loss (dict): Loss over the query scores. Defaults to cross-entropy.

    Shapes:
        - support: ``(N * K, D)``, support_labels ``(N * K, )`` in
          ``0 .. N - 1``
        - query: ``(M, D)``
        - scores: ``(M, N)``
    """

    def __init__(self,
                 metric: str = 'auto',
                 loss: Optional[dict] = None) -> None:
        super().__init__()
        check_arg(self, 'metric', metric, choices=METRICS)
        check_arg(self, 'loss', loss, dict, allow_none=True)
        self.metric = metric
        self.loss_module = MODELS.build(
            loss or dict(type='mmpretrain.CrossEntropyLoss'))

    def scores(self, support: Tensor, support_labels: Tensor,
               query: Tensor) -> Tensor:
        """``(M, N)`` scores of ``query`` against the ``N`` prototypes."""
        num_ways = check_episode_features(
            type(self).__name__, support, support_labels, query)
        one_hot = F.one_hot(support_labels, num_ways).to(support.dtype)
        counts = one_hot.sum(0)
        prototypes = one_hot.t() @ support / counts[:, None]  # (N, D)
        metric = self.metric
        if metric == 'auto':
            metric = 'dot' if bool((counts == 1).all()) else \
                'neg_sq_euclidean'
        if metric == 'dot':
            return query @ prototypes.t()
        if metric == 'cosine':
            return F.normalize(query, dim=1) @ F.normalize(prototypes,
                                                           dim=1).t()
        # ||q - p||^2 summed directly (not q.q + p.p - 2 q.p): exact for
        # the large, nearly equal vectors of BDC features
        return -(query[:, None, :] - prototypes[None]).pow(2).sum(-1)

    predict_episode = scores

    def loss(self, support: Tensor, support_labels: Tensor, query: Tensor,
             query_labels: Tensor) -> Dict[str, Tensor]:
        """Loss and accuracy of one episode's queries."""
        scores = self.scores(support, support_labels, query)
        loss = self.loss_module(scores, query_labels)
        acc = (scores.argmax(1) == query_labels).float().mean() * 100
        return dict(loss=loss, accuracy=acc.detach())
