"""mmpretrain ResNet blocks with a module on the residual branch.

Channel/second-order attention papers (ECA-Net, GSoP-Net, ...) insert their
module after the last normalization of a residual block, before the residual
addition. These blocks hold that forward once; each paper's block subclasses
one of them, builds its module and names the attribute (``attention_name``)
so that state-dict keys follow the authors' (``eca``, ``gsop``).
"""
from typing import Callable

import torch
import torch.utils.checkpoint as cp
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck


def _forward_with_checkpoint(block, inner: Callable,
                             x: torch.Tensor) -> torch.Tensor:
    if block.with_cp and x.requires_grad:
        out = cp.checkpoint(inner, x, use_reentrant=False)
    else:
        out = inner(x)
    return block.relu(out)


def _attend(block, out: torch.Tensor) -> torch.Tensor:
    attention = getattr(block, block.attention_name, None)
    return out if attention is None else attention(out)


class AttentionBasicBlock(BasicBlock):
    """BasicBlock with ``getattr(self, attention_name)`` after ``norm2``.

    The attribute may be ``None`` (a plain block). The residual addition is
    not in place, so the module's output may be needed by its backward.

    Shapes:
        - input: ``(N, in_channels, H, W)``
        - output: ``(N, out_channels, H / stride, W / stride)``
    """

    attention_name = 'attention'

    def forward(self, x: torch.Tensor) -> torch.Tensor:

        def _inner_forward(x):
            out = self.relu(self.norm1(self.conv1(x)))
            out = _attend(self, self.norm2(self.conv2(out)))
            identity = x if self.downsample is None else self.downsample(x)
            return self.drop_path(out) + identity

        return _forward_with_checkpoint(self, _inner_forward, x)


class AttentionBottleneck(Bottleneck):
    """Bottleneck with ``getattr(self, attention_name)`` after ``norm3``.

    The attribute may be ``None`` (a plain block). The residual addition is
    not in place, so the module's output may be needed by its backward.

    Shapes:
        - input: ``(N, in_channels, H, W)``
        - output: ``(N, out_channels, H / stride, W / stride)``
    """

    attention_name = 'attention'

    def forward(self, x: torch.Tensor) -> torch.Tensor:

        def _inner_forward(x):
            out = self.relu(self.norm1(self.conv1(x)))
            out = self.relu(self.norm2(self.conv2(out)))
            out = _attend(self, self.norm3(self.conv3(out)))
            identity = x if self.downsample is None else self.downsample(x)
            return self.drop_path(out) + identity

        return _forward_with_checkpoint(self, _inner_forward, x)
