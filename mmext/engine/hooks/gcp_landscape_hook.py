"""Loss-landscape probes of the GCP optimization study (Wang et al., CVPR
2020).

`What Deep CNNs Benefit from Global Covariance Pooling: An Optimization
Perspective <https://arxiv.org/abs/2003.11241>`_, Sec. 3, following
Santurkar et al. (NeurIPS 2018); authors' code: ZhangLi-CS/GCP_Optimization
(``landscape/``).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmext.registry import HOOKS


@HOOKS.register_module()
class GCPLandscapeHook(Hook):
    """Every ``interval`` training iterations, probe the loss along the
    gradient direction on the current batch, before the optimizer step.

    With weights ``w``, loss ``L`` and gradient ``g = grad L(w)`` on the
    batch, for each step size ``eta`` it evaluates

    - ``L(w - eta g)`` (logged as ``loss@eta``; the spread over ``eta`` is
      the loss landscape / Lipschitzness of the loss, the paper's Fig. 3 (a)),
    - ``||grad L(w - eta g) - g||`` (``grad_change@eta``; gradient
      predictiveness, Fig. 3 (b)),

    and ``beta_smoothness = max_eta ||grad L(w - eta g) - g|| /
    (eta ||g||)`` (effective beta-smoothness, Fig. 3 (c)), plus ``loss``
    (``L(w)``) and ``grad_norm`` (``||g||``). Keys are prefixed with
    ``gcp_landscape/``; values go to the :class:`~mmengine.logging.MessageHub`
    (as history, under those keys), to the visualizer's backends
    (``scalars.json`` for ``LocalVisBackend``) at step ``runner.iter + 1``,
    and to the logger as one line.

    The probe does not change training: parameters are restored exactly
    (copied back from a saved copy), buffers such as BN running statistics
    are restored, ``.grad`` is not touched (gradients are taken with
    :func:`torch.autograd.grad`) and the global random state is unchanged;
    each evaluation replays the same random state, so dropout masks and
    batch augmentations are identical across step sizes. BN stays in the
    model's current mode (batch statistics in training, as in the authors'
    measurement).

    The authors' script probes the input of the network's last part (the
    features before the pooling head) with steps from 0.1 to 75; this hook
    steps all trainable weights, the definition of Santurkar et al., so step
    sizes are of the order of learning rates.

    Args:
        interval (int): Probe every ``interval`` iterations (the authors: 500).
            Defaults to 500.
        step_sizes (Sequence[float]): Positive step sizes ``eta``. Defaults
            to ``(0.01, 0.02, 0.05, 0.1, 0.2, 0.5)``.
    """

    priority = 'LOW'

    def __init__(self,
                 interval: int = 500,
                 step_sizes: Sequence[float] = (0.01, 0.02, 0.05, 0.1, 0.2,
                                                0.5)) -> None:
        if isinstance(interval, bool) or not isinstance(interval, int) \
                or interval < 1:
            raise ValueError(
                f'interval must be an int >= 1, but got {interval!r}')
        step_sizes = tuple(float(s) for s in step_sizes)
        if not step_sizes or not all(
                math.isfinite(s) and s > 0 for s in step_sizes):
            raise ValueError('step_sizes must be a non-empty sequence of '
                             f'positive numbers, but got {step_sizes!r}')
        self.interval = interval
        self.step_sizes = step_sizes

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        """Probe on ``data_batch`` every ``interval`` iterations."""
        if data_batch is None or not self.every_n_train_iters(
                runner, self.interval):
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        values = self.probe(model, data_batch)
        step = runner.iter + 1
        for key, value in values.items():
            runner.message_hub.update_scalar(key, value)
        runner.visualizer.add_scalars(values, step=step)
        runner.logger.info(f'Iter(train) [{step}] ' + '  '.join(
            f'{k}: {v:.6g}' for k, v in values.items()))

    def probe(self, model: torch.nn.Module, data_batch: dict
              ) -> Dict[str, float]:
        """Measure the landscape along ``-grad`` on one batch.

        Args:
            model (BaseModel): An mmengine model (``data_preprocessor``,
                ``_run_forward(data, mode='loss')``, ``parse_losses``).
            data_batch (dict): The batch from the dataloader.

        Returns:
            dict[str, float]: ``gcp_landscape/{loss, grad_norm,
            beta_smoothness}`` and ``gcp_landscape/{loss, grad_change}@eta``
            for each step size.
        """
        params = [p for p in model.parameters() if p.requires_grad]
        saved_params = [p.detach().clone() for p in params]
        saved_buffers = [(b, b.detach().clone()) for b in model.buffers()]
        devices = sorted({p.device.index for p in params
                          if p.device.type == 'cuda'})
        with torch.random.fork_rng(devices=devices):
            rng_state = torch.get_rng_state()
            cuda_states = [torch.cuda.get_rng_state(d) for d in devices]

            def loss_and_grad() -> Tuple[float, List[torch.Tensor]]:
                torch.set_rng_state(rng_state)
                for d, s in zip(devices, cuda_states):
                    torch.cuda.set_rng_state(s, d)
                with torch.enable_grad():
                    data = model.data_preprocessor(data_batch, True)
                    loss, _ = model.parse_losses(
                        model._run_forward(data, mode='loss'))
                    grads = torch.autograd.grad(
                        loss, params, allow_unused=True)
                grads = [
                    torch.zeros_like(p) if g is None else g.detach()
                    for p, g in zip(params, grads)
                ]
                return loss.item(), grads

            try:
                loss0, g = loss_and_grad()
                grad_norm = _norm(g)
                values = {
                    'gcp_landscape/loss': loss0,
                    'gcp_landscape/grad_norm': grad_norm
                }
                beta = 0.
                for eta in self.step_sizes:
                    with torch.no_grad():
                        for p, w, gi in zip(params, saved_params, g):
                            p.copy_(w - eta * gi)
                    loss_eta, g_eta = loss_and_grad()
                    change = _norm([a - b for a, b in zip(g_eta, g)])
                    values[f'gcp_landscape/loss@{eta:g}'] = loss_eta
                    values[f'gcp_landscape/grad_change@{eta:g}'] = change
                    if grad_norm > 0:
                        beta = max(beta, change / (eta * grad_norm))
                values['gcp_landscape/beta_smoothness'] = beta
            finally:
                with torch.no_grad():
                    for p, w in zip(params, saved_params):
                        p.copy_(w)
                    for b, v in saved_buffers:
                        b.copy_(v)
        return values


def _norm(tensors: List[torch.Tensor]) -> float:
    """Euclidean norm of a list of tensors taken as one vector, in float64."""
    return math.sqrt(sum(float(t.double().pow(2).sum()) for t in tensors))
