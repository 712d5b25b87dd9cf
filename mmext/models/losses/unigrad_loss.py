"""UniGrad's surrogate loss with its running correlation matrix.

`Unified Gradient Framework for Self-Supervised Representation Learning
<https://arxiv.org/abs/2112.05141>`_ (Tao et al., CVPR 2022), Eq. (8)-(9);
authors' code: fundamentalvision/UniGrad (``loss_unigrad`` in
``project/pretrainer.py``).
"""
from typing import Tuple

import torch
import torch.nn as nn
from mmengine.dist import all_reduce
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


@MODELS.register_module()
class UniGradLoss(nn.Module):
    """The loss whose gradient with respect to an online output is
    ``-z_m' + lambda F z`` (the positive pulled towards the other view's
    momentum output, the negatives pushed away through ``F``).

    ``F`` is a moving average (``rho``) of the correlation matrix of the
    momentum branch's outputs of both views, averaged over processes and
    initialised from the first batch; it is a buffer, so it is saved in
    checkpoints and restored on resume. Per view ::

        g1 = -z2m + lambda z1 F,   L1 = mean_i <stopgrad(g1_i), z1_i>

    and ``L = (L1 + L2) / 2``, so ``dL/dz1_i = g1_i / (2 N)``. Computed in
    the dtype of ``F`` (float32, also under autocast).

    Args:
        dim (int): Output dimension ``D`` of the projector. Defaults to
            2048.
        lambd (float): ``lambda``, the weight of the negative term.
            Defaults to 100.
        rho (float): Momentum of ``F`` in ``[0, 1]``. Defaults to 0.99.

    Shapes:
        - z1, z2: ``(N, D)`` online outputs of the two views, L2-normalised
        - z1m, z2m: ``(N, D)`` momentum outputs, L2-normalised
        - output: scalar loss and the mean positive cosine similarity
    """

    def __init__(self,
                 dim: int = 2048,
                 lambd: float = 100.0,
                 rho: float = 0.99) -> None:
        super().__init__()
        check_arg(self, 'dim', dim, int, low=1)
        check_arg(self, 'lambd', lambd, float)
        check_arg(self, 'rho', rho, float, low=0, high=1)
        self.lambd = lambd
        self.rho = rho
        self.register_buffer('F', torch.zeros(dim, dim))
        self.register_buffer('initialized', torch.tensor(False))

    def _load_from_state_dict(self, state_dict, prefix, *args,
                              **kwargs) -> None:
        f = state_dict.get(prefix + 'F')
        if isinstance(f, Tensor) and not torch.isfinite(f).all():
            raise ValueError(
                f'the checkpoint entry {prefix}F (UniGrad\'s correlation '
                'matrix) has NaN or Inf values: the run it comes from '
                'diverged; resume from an earlier checkpoint')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def update(self, z1m: Tensor, z2m: Tensor) -> None:
        """Fold the batch's correlation matrix (averaged over processes)
        into ``F``."""
        z1m, z2m = z1m.to(self.F.dtype), z2m.to(self.F.dtype)
        batch = (z1m.t() @ z1m + z2m.t() @ z2m) / (2 * z1m.size(0))
        all_reduce(batch, op='mean')
        if not torch.isfinite(batch).all():
            raise ValueError(
                'UniGradLoss: the momentum outputs give a non-finite '
                'correlation matrix F (the momentum branch diverged)')
        if bool(self.initialized):
            self.F.mul_(self.rho).add_(batch, alpha=1 - self.rho)
        else:
            self.F.copy_(batch)
            self.initialized.fill_(True)

    def forward(self, z1: Tensor, z2: Tensor, z1m: Tensor,
                z2m: Tensor) -> Tuple[Tensor, Tensor]:
        if z1.shape != z1m.shape or z1.size(-1) != self.F.size(0):
            raise ValueError(
                f'UniGradLoss: outputs {tuple(z1.shape)} / momentum outputs '
                f'{tuple(z1m.shape)} do not match dim={self.F.size(0)}')
        self.update(z1m, z2m)
        dtype = self.F.dtype  # float32 also under autocast
        z1, z2 = z1.to(dtype), z2.to(dtype)
        z1m, z2m = z1m.to(dtype).detach(), z2m.to(dtype).detach()
        grad1 = -z2m + self.lambd * z1.detach() @ self.F
        grad2 = -z1m + self.lambd * z2.detach() @ self.F
        loss = 0.5 * ((grad1 * z1).sum(-1).mean() +
                      (grad2 * z2).sum(-1).mean())
        pos_sim = 0.5 * ((z1 * z2m).sum(-1).mean() +
                         (z2 * z1m).sum(-1).mean()).detach()
        return loss, pos_sim
