"""The feature network of the project's Fréchet distance: FID's
Inception-v3 cannot be downloaded, so a small CNN is trained here to tell
which sample image a crop comes from, and its pooled features replace
Inception's."""
from typing import Dict, Optional, Sequence, Union

import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.registry import MODELS
from torch import Tensor

from mmext.utils import check_arg
from .generator import conv_stack


@MODELS.register_module()
class RISAFeatureNet(BaseModel):
    """Batch-normalised convolutions, global average pooling and a linear
    classifier over the sample images.

    Args:
        num_classes (int): Number of sample images.
        channels (Sequence[int]): Convolution stages (stride 2 after the
            first). Defaults to (16, 32, 64).
        data_preprocessor (dict, optional): Defaults to mmengine's.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        - image: ``(N, 3, H, W)`` in ``[0, 1]``
        - label: ``(N, )`` image indices
        - output (``mode='tensor'``): ``(N, channels[-1])`` features
    """

    def __init__(self,
                 num_classes: int,
                 channels: Sequence[int] = (16, 32, 64),
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        check_arg(self, 'num_classes', num_classes, int, low=2)
        check_arg(self, 'channels', channels, (list, tuple))
        self.convs = conv_stack(channels, dict(type='BN'))
        self.fc = nn.Linear(channels[-1], num_classes)

    def forward(self,
                image: Tensor,
                label: Optional[Tensor] = None,
                mode: str = 'tensor') -> Union[Tensor, Dict[str, Tensor]]:
        feats = self.convs(image).mean((2, 3))
        if mode == 'tensor':
            return feats
        if mode == 'loss':
            return dict(loss_cls=F.cross_entropy(self.fc(feats), label))
        raise ValueError(f'{type(self).__name__}: unknown mode {mode!r} '
                         "(expected 'tensor' or 'loss')")


def feature_net_model(cfg: dict) -> dict:
    """The feature network's model config of a project config: one class
    per sample image of ``images.content + images.style``."""
    names = list(cfg['images']['content']) + list(cfg['images']['style'])
    return dict(cfg['feature_net']['model'], num_classes=len(names))
