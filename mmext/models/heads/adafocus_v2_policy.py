"""AdaFocusV2's recurrent patch policy (one patch per frame).

Wang et al., "AdaFocus V2: End-to-End Training of Spatial Dynamic Networks
for Video Recognition", CVPR 2022, Sec. 3.2; the layers of the authors'
``PolicySTN`` (``models/adafocus_v2.py``) with the same parameter shapes, so
their ``policy_stn`` weights load after renaming (``checkpoint_filter_fn``
of :mod:`mmext.models.recognizers.adafocus_v2`).

Per frame, the detached global feature map ``(C, h, w)`` goes through a
1x1 convolution to 64 channels (no bias) + BN + Tanh, is flattened
(``64 h w``), a linear layer + BN1d + Tanh to ``hidden_dim``, a GRU over the
frames of the video, and a linear layer + Sigmoid to the ``(row, column)``
patch position in ``[0, 1]^2``.
"""
from typing import Optional, Tuple

from torch import Tensor, nn

from mmext.registry import MODELS
from mmext.utils.validation import check_arg

__all__ = ['AdaFocusV2Policy']


@MODELS.register_module()
class AdaFocusV2Policy(nn.Module):
    """Conv-MLP encoder, GRU over frames, sigmoid position.

    Args:
        in_channels (int): ``C`` of the global feature map (1280 for
            MobileNetV2, 2048 for ResNet-50).
        state_size (int): ``h = w`` of the global feature map (7 for
            MobileNetV2 on 224-pixel frames).
        hidden_dim (int): Width of the encoder output and the GRU (authors'
            scripts: 2048).
        reduced_channels (int): Output channels of the 1x1 convolution.

    Shapes:
        - forward: ``(N, T, C, h, w)`` -> ``(N, T, 2)`` positions.
        - step: ``(B, C, h, w)`` and hidden ``(1, B, hidden_dim)`` or None
          -> ``(B, 2)`` positions and the new hidden state.
    """

    def __init__(self,
                 in_channels: int,
                 state_size: int,
                 hidden_dim: int = 2048,
                 reduced_channels: int = 64) -> None:
        check_arg(self, 'in_channels', in_channels, int, low=1)
        check_arg(self, 'state_size', state_size, int, low=1)
        check_arg(self, 'hidden_dim', hidden_dim, int, low=1)
        check_arg(self, 'reduced_channels', reduced_channels, int, low=1)
        super().__init__()
        self.in_channels = in_channels
        self.state_size = state_size
        self.hidden_dim = hidden_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, reduced_channels, 1, bias=False),
            nn.BatchNorm2d(reduced_channels), nn.Tanh(), nn.Flatten(),
            nn.Linear(reduced_channels * state_size * state_size, hidden_dim),
            nn.BatchNorm1d(hidden_dim), nn.Tanh())
        self.gru = nn.GRU(hidden_dim, hidden_dim, batch_first=True)
        self.fc = nn.Sequential(nn.Linear(hidden_dim, 2), nn.Sigmoid())

    def _check_state(self, state: Tensor) -> None:
        if tuple(state.shape[-3:]) != (self.in_channels, self.state_size,
                                        self.state_size):
            raise ValueError(
                f'AdaFocusV2Policy: feature maps of shape '
                f'{tuple(state.shape[-3:])}; the policy was built for '
                f'({self.in_channels}, {self.state_size}, '
                f'{self.state_size}) (policy.in_channels, '
                'policy.state_size: the global feature map of the frame '
                'size used)')

    def forward(self, states: Tensor) -> Tensor:
        """Positions of every frame of every video (training).

        Args:
            states (Tensor): ``(N, T, C, h, w)`` global feature maps.

        Returns:
            Tensor: ``(N, T, 2)`` positions in ``[0, 1]``.
        """
        self._check_state(states)
        n, t = states.shape[:2]
        feats = self.encoder(states.flatten(0, 1)).view(n, t, -1)
        out, _ = self.gru(feats)
        return self.fc(out)

    def step(self, state: Tensor,
             hidden: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """The position of one frame (step-wise inference).

        Args:
            state (Tensor): ``(B, C, h, w)`` global feature maps of frame
                ``t``.
            hidden (Tensor, optional): ``(1, B, hidden_dim)`` GRU state
                after frame ``t - 1`` (None at the first frame: zeros).

        Returns:
            tuple[Tensor, Tensor]: ``(B, 2)`` positions and the
            ``(1, B, hidden_dim)`` GRU state after frame ``t``.
        """
        self._check_state(state)
        out, hidden = self.gru(self.encoder(state)[:, None], hidden)
        return self.fc(out[:, 0]), hidden
