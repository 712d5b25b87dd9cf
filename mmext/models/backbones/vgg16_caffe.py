"""VGG16 as py-faster-rcnn's Caffe detectors use it (for MLKP)."""
from typing import Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


@MODELS.register_module()
class VGG16Caffe(BaseModule):
    """VGG16 conv1_1 ... conv5_3 for detection: 3x3 convs with bias and
    ReLU, 2x2 max pooling after stages 1-4 in Caffe's ceil mode, no pool5
    and no fully connected layers (detectors put fc6/fc7 in the RoI head).

    The layers sit in ``features`` at torchvision's indices
    (``features.0`` is conv1_1, ``features.28`` conv5_3), so torchvision's
    ``vgg16`` and OpenMMLab's converted Caffe model
    (``open-mmlab://vgg16_caffe``, BGR input minus the Caffe pixel means)
    load by name. The outputs are the post-ReLU activations named in
    ``out_layers``, in that order; MLKP uses
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
        layers, self.layer_index = [], {}
        in_channels = 3
        for stage, (channels, num_convs) in enumerate(self.STAGES, 1):
            if stage > 1:
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            for i in range(1, num_convs + 1):
                self.layer_index[f'conv{stage}_{i}'] = len(layers) + 1
                layers += [
                    nn.Conv2d(in_channels, channels, 3, padding=1),
                    nn.ReLU(inplace=True)
                ]
                in_channels = channels
        self.features = nn.Sequential(
            *layers[:self.layer_index[self.LAYERS[last]] + 1])
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        for name, index in self.layer_index.items():
            if index < len(self.features) and \
                    int(name[4]) <= self.frozen_stages:
                for p in self.features[index - 1].parameters():
                    p.requires_grad = False

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """``(N, 3, H, W)`` -> the activations of ``out_layers``."""
        wanted = {self.layer_index[n]: n for n in self.out_layers}
        outs = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in wanted:
                outs[wanted[index]] = x
        return tuple(outs[n] for n in self.out_layers)
