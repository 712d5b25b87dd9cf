"""Logistic regression fit on each episode's support set (STL DeepBDC,
Good-Embed / RFS).

Features are L2-normalised (``x / (||x|| + 1e-6)``, as the DeepBDC authors)
and a multinomial L2-penalised logistic regression (scikit-learn, lbfgs) is
fit on the support set and scores the queries. Current scikit-learn has no
``multi_class`` argument: lbfgs on more than two classes is multinomial.
The head has no parameters and no training loss: it is a test-time
classifier on a fixed network.
"""
import warnings

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.validation import check_arg
from .prototype_head import check_episode_features

__all__ = ['LogisticRegressionHead']


@MODELS.register_module()
class LogisticRegressionHead(nn.Module):
    """Per-episode logistic regression on L2-normalised features.

    Args:
        C (float): Inverse L2 penalty (the DeepBDC scripts: 0.1 / 2 for
            miniImageNet 1 / 5-shot, 0.05 / 30 tieredImageNet, 20 CUB).
            Defaults to 1.
        max_iter (int): lbfgs iterations. Defaults to 1000.
        normalize (bool): L2-normalise features first. Defaults to True.
        random_state (int): scikit-learn's seed. Defaults to 0.

    Shapes:
        - support: ``(N * K, D)``, support_labels ``(N * K, )`` in
          ``0 .. N - 1``
        - query: ``(M, D)``
        - scores: ``(M, N)`` class probabilities
    """

    def __init__(self,
                 C: float = 1.0,
                 max_iter: int = 1000,
                 normalize: bool = True,
                 random_state: int = 0) -> None:
        super().__init__()
        check_arg(self, 'C', C, float, low=0, low_open=True)
        check_arg(self, 'max_iter', max_iter, int, low=1)
        check_arg(self, 'normalize', normalize, bool)
        check_arg(self, 'random_state', random_state, int, low=0)
        if not np.isfinite(C):
            raise ValueError(f'LogisticRegressionHead: C={C!r} (float) is '
                             'invalid; expected a finite float > 0')
        self.C = float(C)
        self.max_iter = max_iter
        self.normalize = normalize
        self.random_state = random_state

    def _prepare(self, x: Tensor) -> np.ndarray:
        x = x.detach().double().cpu()
        if self.normalize:
            x = x / (x.norm(dim=1, keepdim=True) + 1e-6)
        return x.numpy()

    @torch.no_grad()
    def predict_episode(self, support: Tensor, support_labels: Tensor,
                        query: Tensor) -> Tensor:
        """``(M, N)`` probabilities of the queries under the fit model."""
        from sklearn.linear_model import LogisticRegression
        num_ways = check_episode_features(
            type(self).__name__, support, support_labels, query)
        clf = LogisticRegression(
            C=self.C,
            solver='lbfgs',
            max_iter=self.max_iter,
            random_state=self.random_state)
        with warnings.catch_warnings():
            # lbfgs on tiny supports may stop at max_iter; the fit is used
            # as it is, as the authors do
            warnings.simplefilter('ignore')
            clf.fit(self._prepare(support), support_labels.cpu().numpy())
        proba = clf.predict_proba(self._prepare(query))
        out = np.zeros((proba.shape[0], num_ways))
        out[:, clf.classes_] = proba
        return torch.from_numpy(out).to(query.device, torch.float32)

    scores = predict_episode
