"""GFNet's classifier ``f_C`` over the features of the steps so far.

Wang et al., NeurIPS 2020, Sec. 3.2, in the layout of the authors'
``network.py`` (``Full_layer``), so their ``fc`` state dicts load unchanged:

- ``'gru'`` (ResNet, DenseNet, RegNet): a GRU over the pooled features of
  the steps, its hidden state carried across steps, then a linear layer;
- ``'cascade'`` (MobileNetV3, EfficientNet): the pooled features of steps
  ``1..k`` concatenated, step ``k >= 2`` classified by its own linear layer
  ``fc_k`` (``k * D -> classes``). Step 1 has no layer of its own (GFNet
  takes the global encoder's head there). The authors build ``fc_2..fc_5``
  whatever the number of steps, and their parameter counts include them;
  ``max_steps`` keeps that.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from mmext.registry import MODELS
from mmext.utils.validation import check_arg

__all__ = ['GFNetHead']


@MODELS.register_module()
class GFNetHead(nn.Module):
    """Recurrent or cascade classifier of the glance and focus steps.

    Args:
        in_channels (int): ``D``, the size of a step's pooled feature.
        num_classes (int): Number of classes.
        mode (str): ``'gru'`` or ``'cascade'``.
        hidden_dim (int): GRU size (``'gru'`` only; authors: 1024).
        max_steps (int): Steps with a linear layer in ``'cascade'`` mode
            (``fc_2..fc_{max_steps}``; authors: 5).

    Shapes:
        - feature: ``(N, D)``.
        - state: ``'gru'``: ``(1, N, hidden_dim)``; ``'cascade'``:
          ``(N, k D)`` after step ``k``.
        - logits: ``(N, num_classes)``; None at step 1 in ``'cascade'``.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int = 1000,
                 mode: str = 'gru',
                 hidden_dim: int = 1024,
                 max_steps: int = 5) -> None:
        check_arg(self, 'in_channels', in_channels, int, low=1)
        check_arg(self, 'num_classes', num_classes, int, low=1)
        check_arg(self, 'mode', mode, choices=('gru', 'cascade'))
        check_arg(self, 'hidden_dim', hidden_dim, int, low=1)
        check_arg(self, 'max_steps', max_steps, int, low=2)
        super().__init__()
        self.mode = mode
        self.in_channels = in_channels
        self.max_steps = max_steps
        if mode == 'gru':
            self.rnn = nn.GRU(in_channels, hidden_dim)
            self.fc = nn.Linear(hidden_dim, num_classes)
        else:
            for k in range(2, max_steps + 1):
                self.add_module(f'fc_{k}',
                                nn.Linear(k * in_channels, num_classes))

    def forward(self,
                feature: Tensor,
                state: Optional[Tensor] = None
                ) -> Tuple[Optional[Tensor], Tensor]:
        """Classify after one more step.

        Args:
            feature (Tensor): ``(N, D)`` pooled feature of this step.
            state (Tensor, optional): State after the previous steps; None
                at step 1.

        Returns:
            tuple: ``(N, num_classes)`` logits (None at step 1 in
            ``'cascade'`` mode) and the new state.
        """
        if self.mode == 'gru':
            out, state = self.rnn(feature[None], state)
            return self.fc(out[0]), state
        state = feature if state is None else torch.cat([state, feature], 1)
        step = state.shape[1] // self.in_channels
        if step == 1:
            return None, state
        if step > self.max_steps:
            raise ValueError(
                f'GFNetHead: step {step} of a cascade classifier with '
                f'max_steps={self.max_steps}; set max_steps >= the number '
                'of steps of the model')
        return getattr(self, f'fc_{step}')(state), state
