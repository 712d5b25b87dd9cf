"""UniGrad: self-supervised learning through a unified gradient.

`Unified Gradient Framework for Self-Supervised Representation Learning
<https://arxiv.org/abs/2112.05141>`_ (Tao et al., CVPR 2022); authors' code:
fundamentalvision/UniGrad (``project/model.py``, ``project/pretrainer.py``).
"""
from typing import Dict, List, Optional, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.models.utils import CosineEMA
from mmpretrain.structures import DataSample

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


@MODELS.register_module()
class UniGrad(BaseSelfSupervisor):
    """A Siamese network with a momentum branch trained by
    :class:`~mmext.models.losses.UniGradLoss`.

    Both views go through the online encoder and projector and through
    their momentum copies (:class:`mmpretrain.models.utils.CosineEMA`,
    updated each step before the momentum forward); all projector outputs
    are L2-normalised. There is no predictor.

    The momentum follows mmengine's convention (the weight of the online
    parameters): ``base_momentum=0.004`` is the authors' 0.996, annealed to
    0 (their 1) with a cosine over all iterations. ``CosineEMA`` copies the
    online weights at its first update (identical to the initial copy) and
    anneals from the second; the authors anneal from their first step, a
    one-iteration shift.

    Args:
        backbone (dict): The encoder (the authors: a ResNet-50 with
            zero-initialised last BN of each block).
        neck (dict): The projector (the authors: 3 layers 2048-2048-2048,
            BN + ReLU on the hidden layers, bias on the output only).
        loss (dict): The loss with the correlation matrix. Defaults to
            ``dict(type='UniGradLoss')``.
        base_momentum (float): Initial weight of the online parameters in
            the momentum update, in ``[0, 1]``. Defaults to 0.004.
        pretrained (str, optional): Checkpoint of the whole model.
        data_preprocessor (dict, optional): Defaults to
            ``SelfSupDataPreprocessor``.
        init_cfg (dict | list[dict], optional): Initialization config.

    Shapes:
        - inputs: two views ``[(N, 3, H, W), (N, 3, H, W)]``
        - loss: a dict with the scalar ``loss`` and the logged ``pos_sim``
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 loss: dict = dict(type='UniGradLoss'),
                 base_momentum: float = 0.004,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        # the weight of the online parameters (0.004: the authors' 0.996)
        check_arg(self, 'base_momentum', base_momentum, float, low=0, high=1)
        super().__init__(
            backbone=backbone,
            neck=neck,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self.loss_module = MODELS.build(loss)
        self.target_net = CosineEMA(
            nn.Sequential(self.backbone, self.neck), momentum=base_momentum)

    def project(self, net: nn.Module, img: torch.Tensor) -> torch.Tensor:
        """``(N, D)`` L2-normalised projector output of ``net`` (the online
        backbone + neck, or the momentum copy)."""
        return F.normalize(net(img)[0], dim=1)

    def loss(self, inputs: List[torch.Tensor], data_samples: List[DataSample],
             **kwargs) -> Dict[str, torch.Tensor]:
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                'UniGrad takes two views per image (a MultiView transform '
                'with num_views=2 in the train pipeline)')
        online = nn.Sequential(self.backbone, self.neck)
        z1 = self.project(online, inputs[0])
        z2 = self.project(online, inputs[1])
        with torch.no_grad():
            self.target_net.update_parameters(online)
            z1m = self.project(self.target_net, inputs[0])
            z2m = self.project(self.target_net, inputs[1])
        loss, pos_sim = self.loss_module(z1, z2, z1m, z2m)
        return dict(loss=loss, pos_sim=pos_sim)
