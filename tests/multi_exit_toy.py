"""A three-step multi-exit classifier for the adaptive-inference tests, and
its step costs in closed form.

Step ``t`` runs a 3x3 convolution + BN + ReLU on the previous step's feature
map, a ``GRUCell`` on its spatial mean (the hidden state carried across
steps, as GFNet's classifier) and the step's linear head. Registered under a
test-only name so a config can build it (``custom_imports =
dict(imports=['multi_exit_toy'])``; ``tests/`` is on ``sys.path`` under
pytest). Layer sizes are fixed so tests can write its costs in closed form.
"""
from typing import List, Optional

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.registry import MODELS
from torch import nn

from mmext.models.utils.multi_exit import MultiExitMixin, iter_all_steps

CHANNELS = 8
HIDDEN = 16
GROUPS = 2  # of the convolutions of steps 2 and 3


def closed_form_costs(size: int, num_classes: int,
                      convention: str) -> List[int]:
    """Cumulative multiply-adds per image of steps 1..3 on ``size x size``
    inputs (``size`` divisible by 2).

    ``'authors'``: conv, GRU-cell and linear layers. ``'mmengine'``: the
    same (fvcore traces the GRU cell as its two matrix products) plus the
    eval-mode batch norms (scale and shift per element); the mean pooling
    and gate activations are not counted.
    """
    pixels = (size // 2)**2  # every step works at stride 2
    conv1 = pixels * CHANNELS * 3 * 9
    conv23 = pixels * CHANNELS * (CHANNELS // GROUPS) * 9
    gru_cell = 3 * HIDDEN * (CHANNELS + HIDDEN)  # 3 gates: input + hidden
    head = HIDDEN * num_classes
    norm = 2 * pixels * CHANNELS if convention == 'mmengine' else 0
    first = conv1 + norm + gru_cell + head
    later = conv23 + norm + gru_cell + head
    return [first, first + later, first + 2 * later]


@MODELS.register_module(name='ToyMultiExitClassifier', force=True)
class ToyMultiExitClassifier(BaseModel, MultiExitMixin):
    """Steps: conv(3 -> 8, stride 2), then two grouped convs (8 -> 8)."""

    def __init__(self,
                 num_classes: int = 5,
                 data_preprocessor: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor)
        self.convs = nn.ModuleList([
            nn.Conv2d(3, CHANNELS, 3, stride=2, padding=1),
            nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1, groups=GROUPS),
            nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1, groups=GROUPS)
        ])
        self.norms = nn.ModuleList(nn.BatchNorm2d(CHANNELS) for _ in range(3))
        self.gru = nn.GRUCell(CHANNELS, HIDDEN)
        self.heads = nn.ModuleList(
            nn.Linear(HIDDEN, num_classes) for _ in range(3))

    @property
    def num_steps(self) -> int:
        return len(self.convs)

    def forward_steps(self, inputs):
        x, hidden = inputs, None
        for conv, norm, head in zip(self.convs, self.norms, self.heads):
            x = F.relu(norm(conv(x)))
            hidden = self.gru(x.mean(dim=(2, 3)), hidden)
            keep = yield head(hidden)
            x, hidden = x[keep], hidden[keep]

    def forward(self, inputs, data_samples=None, mode: str = 'tensor'):
        logits = torch.stack(list(iter_all_steps(self, inputs)))
        if mode == 'tensor':
            return logits
        if mode == 'loss':
            labels = torch.cat([s.gt_label for s in data_samples])
            return dict(loss=sum(F.cross_entropy(s, labels) for s in logits))
        for sample, sample_logits in zip(data_samples, logits.unbind(1)):
            sample.set_field(sample_logits, 'step_logits')
        return data_samples
