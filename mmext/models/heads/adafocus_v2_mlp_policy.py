"""AdaFocusV2's per-video patch policy of the Something-Something / Jester
experiments.

Wang et al., "AdaFocus V2", CVPR 2022; the authors' ``policy_stn`` of
``Experiments on Sth-Sth and Jester/main.py``, same layers and parameter
shapes. The detached global feature maps of all ``T`` glance frames,
stacked along the channels (``T C``, 10240 for 8 MobileNetV2 frames), go
through a 1x1 convolution to 64 channels (no bias) + BN + Tanh, are
flattened, and an MLP (linear + BN1d + Tanh per hidden layer) ends in a
linear layer + Sigmoid: one ``(row, column)`` patch position in ``[0, 1]^2``
per video, shared by all its focus frames.
"""
from typing import Sequence

from torch import Tensor, nn

from mmext.registry import MODELS
from mmext.utils.validation import check_arg

__all__ = ['AdaFocusV2MLPPolicy']


@MODELS.register_module()
class AdaFocusV2MLPPolicy(nn.Module):
    """Conv + MLP from the stacked glance feature maps to one position.

    Args:
        in_channels (int): ``T C`` of the stacked feature maps.
        state_size (int): ``h = w`` of the feature maps (7 at 224 pixels).
        hidden_dims (Sequence[int]): Widths of the hidden layers (authors:
            1024, 512).
        reduced_channels (int): Output channels of the 1x1 convolution.

    Shapes:
        - forward: ``(N, T C, h, w)`` -> ``(N, 2)`` positions.
    """

    def __init__(self,
                 in_channels: int,
                 state_size: int,
                 hidden_dims: Sequence[int] = (1024, 512),
                 reduced_channels: int = 64) -> None:
        check_arg(self, 'in_channels', in_channels, int, low=1)
        check_arg(self, 'state_size', state_size, int, low=1)
        check_arg(self, 'hidden_dims', hidden_dims, (list, tuple))
        for dim in hidden_dims:
            check_arg(self, 'hidden_dims[]', dim, int, low=1)
        check_arg(self, 'reduced_channels', reduced_channels, int, low=1)
        super().__init__()
        self.in_channels = in_channels
        self.state_size = state_size
        layers = [
            nn.Conv2d(in_channels, reduced_channels, 1, bias=False),
            nn.BatchNorm2d(reduced_channels),
            nn.Tanh(),
            nn.Flatten()
        ]
        width = reduced_channels * state_size * state_size
        for dim in hidden_dims:
            layers += [nn.Linear(width, dim), nn.BatchNorm1d(dim), nn.Tanh()]
            width = dim
        layers += [nn.Linear(width, 2), nn.Sigmoid()]
        self.layers = nn.Sequential(*layers)

    def forward(self, states: Tensor) -> Tensor:
        """Positions of the videos' patches.

        Args:
            states (Tensor): ``(N, T C, h, w)`` stacked feature maps.

        Returns:
            Tensor: ``(N, 2)`` positions in ``[0, 1]``.
        """
        if tuple(states.shape[1:]) != (self.in_channels, self.state_size,
                                       self.state_size):
            raise ValueError(
                f'AdaFocusV2MLPPolicy: stacked feature maps of shape '
                f'{tuple(states.shape[1:])}; the policy was built for '
                f'({self.in_channels}, {self.state_size}, '
                f'{self.state_size}) (policy.in_channels = glance frames x '
                'channels, policy.state_size)')
        return self.layers(states)
