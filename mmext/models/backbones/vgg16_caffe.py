"""VGG16 as py-faster-rcnn's Caffe detectors use it (for MLKP)."""
from typing import Optional, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


@MODELS.register_module()
class VGG16Caffe(BaseModule):
    """VGG16 conv1_1 ... conv5_3 for detection: 3x3 convs with bias and
    ReLU, 2x2 max pooling after stages 1-4 in Caffe's ceil mode, no pool5
    and no fully connected layers (detectors put fc6/fc7 in the RoI head).

    Convolutions are attributes named as in Caffe (``conv4_3.weight``), so
    Caffe and torchvision weights map by name. The outputs are the
    post-ReLU activations named in ``out_layers``, in that order; MLKP uses
    ``('conv4_2', 'conv4_3', 'conv5_2', 'conv5_3')``: for an ``(N, 3, H, W)``
    input, conv4 maps are ``(N, 512, ceil(H / 8), ceil(W / 8))`` and conv5
    maps ``(N, 512, ceil(H / 16), ceil(W / 16))``.

    Args:
        out_layers: Names of the convolutions whose activations are returned.
        frozen_stages: Stages (1-5) whose parameters are frozen; py-faster-rcnn
            freezes conv1 and conv2 (``frozen_stages=2``).
        init_cfg: mmengine init config (e.g. ``Pretrained``).
    """

    #: (channels, convs) of the five stages.
    STAGES = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
    LAYERS = tuple(f'conv{s}_{i}' for s, (_, n) in enumerate(STAGES, 1)
                   for i in range(1, n + 1))

    def __init__(self,
                 out_layers: Sequence[str] = ('conv4_2', 'conv4_3', 'conv5_2',
                                              'conv5_3'),
                 frozen_stages: int = 2,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_arg(self, 'out_layers', out_layers, (tuple, list))
        if not out_layers:
            raise ValueError('VGG16Caffe: out_layers is empty')
        for name in out_layers:
            check_arg(self, 'out_layers', name, choices=self.LAYERS)
        check_arg(self, 'frozen_stages', frozen_stages, int, low=-1,
                  high=len(self.STAGES))
        self.out_layers = tuple(out_layers)
        self.frozen_stages = frozen_stages
        # the last layer needed: later convs are not built
        last = max(self.LAYERS.index(n) for n in self.out_layers)
        self.layer_names = self.LAYERS[:last + 1]
        in_channels = 3
        for stage, (channels, num_convs) in enumerate(self.STAGES, 1):
            for i in range(1, num_convs + 1):
                name = f'conv{stage}_{i}'
                if name not in self.layer_names:
                    break
                self.add_module(
                    name, nn.Conv2d(in_channels, channels, 3, padding=1))
                in_channels = channels
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        for name in self.layer_names:
            if int(name[4]) <= self.frozen_stages:
                for p in getattr(self, name).parameters():
                    p.requires_grad = False

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """``(N, 3, H, W)`` -> the activations of ``out_layers``."""
        outs = {}
        for name in self.layer_names:
            if name.endswith('_1') and name != 'conv1_1':
                x = F.max_pool2d(x, 2, 2, ceil_mode=True)
            x = F.relu(getattr(self, name)(x))
            if name in self.out_layers:
                outs[name] = x
        return tuple(outs[n] for n in self.out_layers)
