"""Saliency baselines over an observation window, for the decision at the
window's last step.

Each function maps ``(B, K, C, H, W)`` windows and the LSTM state before
their first frame to ``(B, K, H, W)`` saliency (larger: more important),
explaining the agent's greedy action at the last frame.
"""
import numpy as np
import torch
import torch.nn as nn
from mmext.utils import require
from scipy.ndimage import gaussian_filter

from .agent import LSTMState, policy_logits

captum_attr = require('captum.attr', 'captum',
                      'the gradient and occlusion baselines of projects/TSCI')


class LastDecision(nn.Module):
    """The agent's logits at the last frame of a window, as a function of
    the window and of the batch-first LSTM state (captum expands extra
    forward arguments along their first dimension).

    Shapes:
        - window: ``(B, K, C, H, W)``
        - h, c: ``(B, num_layers, hidden)``
        - output: ``(B, A)``
    """

    def __init__(self, policy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, window: torch.Tensor, h: torch.Tensor,
                c: torch.Tensor) -> torch.Tensor:
        state = (h.transpose(0, 1).contiguous(),
                 c.transpose(0, 1).contiguous())
        return policy_logits(self.policy, window, state)[0][:, -1]


def _setup(policy, window: torch.Tensor, state: LSTMState):
    model = LastDecision(policy)
    args = (state[0].transpose(0, 1), state[1].transpose(0, 1))
    with torch.no_grad():
        target = model(window, *args).argmax(-1)
    return model, args, target


def gradient_saliency(policy, window: torch.Tensor,
                      state: LSTMState) -> torch.Tensor:
    """captum ``Saliency`` (Simonyan et al.): the largest absolute gradient
    of the chosen action's logit over a pixel's channels."""
    model, args, target = _setup(policy, window, state)
    grads = captum_attr.Saliency(model).attribute(
        window, target=target, abs=True, additional_forward_args=args)
    return grads.amax(2)


def occlusion_saliency(policy, window: torch.Tensor, state: LSTMState,
                       patch: int, stride: int) -> torch.Tensor:
    """captum ``Occlusion`` (Zeiler & Fergus): the drop of the chosen
    action's logit when a ``patch x patch`` square of one frame (all its
    channels) is set to 0, averaged over the patches covering a pixel."""
    model, args, target = _setup(policy, window, state)
    C = window.shape[2]
    attr = captum_attr.Occlusion(model).attribute(
        window,
        sliding_window_shapes=(1, C, patch, patch),
        strides=(1, C, stride, stride),
        baselines=0.0,
        target=target,
        additional_forward_args=args,
        perturbations_per_eval=64)
    return attr.mean(2)


def _greydanus_masks(H: int, W: int, mask_sigma: float,
                     stride: int) -> np.ndarray:
    """``(P, H, W)`` perturbation masks on a ``stride`` grid: Greydanus et
    al.'s ``get_mask`` (a radius-1 disk blurred by ``mask_sigma``, scaled
    to a maximum of 1)."""
    yy, xx = np.mgrid[:H, :W]
    masks = []
    for i in range(0, H, stride):
        for j in range(0, W, stride):
            disk = ((yy - i)**2 + (xx - j)**2 <= 1).astype(np.float64)
            blurred = gaussian_filter(disk, mask_sigma)
            masks.append(blurred / blurred.max())
    return np.stack(masks)


@torch.no_grad()
def perturbation_saliency(policy, window: torch.Tensor, state: LSTMState,
                          mask_sigma: float, blur_sigma: float,
                          stride: int) -> torch.Tensor:
    """Perturbation saliency of Greydanus et al. (ICML 2018, Eq. 2-3).

    Around each grid point of each frame, the frame is blended with its
    Gaussian blur (``I' = I (1 - M) + blur(I) M``) and the saliency is
    ``0.5 * ||pi(I) - pi(I')||^2`` on the actor's logits at the last frame;
    grids coarser than the frame (``stride > 1``) are upsampled bilinearly.
    """
    B, K, C, H, W = window.shape
    masks = torch.from_numpy(_greydanus_masks(H, W, mask_sigma,
                                              stride)).float()
    P = masks.shape[0]
    blurred = torch.from_numpy(
        gaussian_filter(window.numpy(),
                        (0, 0, 0, blur_sigma, blur_sigma))).float()
    out = []
    for b in range(B):
        # (K, P, K, C, H, W): frame k perturbed at grid point p
        seqs = window[b].expand(K, P, K, C, H, W).clone()
        for k in range(K):
            m = masks[:, None]
            seqs[k, :, k] = window[b, k] * (1 - m) + blurred[b, k] * m
        ref = policy_logits(policy, window[b:b + 1],
                            (state[0][:, b:b + 1], state[1][:, b:b + 1]))[0]
        h = state[0][:, b:b + 1].expand(-1, K * P, -1).contiguous()
        c = state[1][:, b:b + 1].expand(-1, K * P, -1).contiguous()
        logits = policy_logits(policy, seqs.flatten(0, 1), (h, c))[0]
        score = 0.5 * (logits[:, -1] - ref[:, -1]).pow(2).sum(-1)
        out.append(score.view(K, P))
    sal = torch.stack(out)
    gh, gw = len(range(0, H, stride)), len(range(0, W, stride))
    sal = sal.view(B, K, gh, gw)
    if (gh, gw) != (H, W):
        sal = nn.functional.interpolate(
            sal, size=(H, W), mode='bilinear', align_corners=False)
    return sal
