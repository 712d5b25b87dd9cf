"""iSQRT-COV global covariance pooling (Li et al., CVPR 2018).

`Towards Faster Training of Global Covariance Pooling Networks by Iterative
Matrix Square Root Normalization <https://arxiv.org/abs/1712.01034>`_ (and
MPN-COV, ICCV 2017); authors' code: jiangtaoxie/fast-MPN-COV.
"""
import re
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule

from mmext.ops import isqrt_cov
from mmext.registry import MODELS
from mmext.utils.converter import rename_by_rules, strip_prefix
from mmext.utils.validation import check_arg


@MODELS.register_module()
class ISQRTCOVNeck(BaseModule):
    """Dimension reduction + iSQRT-COV pooling, replacing global average
    pooling in front of a linear classifier.

    ``x -> ReLU(BN(Conv1x1(x)))`` (2048 -> 256 in the paper's ResNets, Sec.
    4.1), then the centred covariance ``Sigma`` of the ``M = H W`` spatial
    positions, its square root by ``num_iter`` coupled Newton-Schulz
    iterations with trace pre-normalization and post-compensation (Eqs. 6-8),
    and the upper triangle as a ``d (d + 1) / 2`` vector (32,896 for d = 256).
    The pooling runs in float32 under mixed precision.

    Use with mmpretrain's ResNet with the last stage at stride 1 (a 14 x 14
    map at 224 x 224), ``strides=(1, 2, 2, 1)``, as in the paper.

    Args:
        in_channels (int): Channels of the input map. Defaults to 2048.
        reduced_channels (int, optional): Channels ``d`` after the 1x1
            reduction; ``None`` pools the input channels directly. Defaults
            to 256.
        num_iter (int): Newton-Schulz iterations. Defaults to 5.
        triu (bool): Output the upper-triangular vector (True) or the
            flattened ``d x d`` matrix. Defaults to True.
        norm_cfg (dict): Norm layer of the reduction. Defaults to BN.
        act_cfg (dict): Activation of the reduction. Defaults to ReLU.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None (ConvModule's Kaiming fan-out conv and unit BN,
            as the authors' code).

    Shapes:
        - input: a tuple of maps, the last ``(N, in_channels, H, W)`` is used
        - output: a 1-tuple ``(N, d (d + 1) / 2)`` (or ``(N, d * d)``)
    """

    def __init__(self,
                 in_channels: int = 2048,
                 reduced_channels: Optional[int] = 256,
                 num_iter: int = 5,
                 triu: bool = True,
                 norm_cfg: Dict = dict(type='BN'),
                 act_cfg: Dict = dict(type='ReLU'),
                 init_cfg: Optional[Union[Dict, Sequence[Dict]]] = None
                 ) -> None:
        super().__init__(init_cfg=init_cfg)
        check_arg(self, 'in_channels', in_channels, int, low=1)
        check_arg(self, 'reduced_channels', reduced_channels, int, low=1,
                  allow_none=True)
        check_arg(self, 'num_iter', num_iter, int, low=1)
        self.in_channels = in_channels
        self.num_iter = num_iter
        self.triu = triu
        if reduced_channels is None:
            self.reduce = None
            dim = in_channels
        else:
            self.reduce = ConvModule(
                in_channels,
                reduced_channels,
                kernel_size=1,
                bias=False,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
            dim = reduced_channels
        self.out_channels = dim * (dim + 1) // 2 if triu else dim * dim

    def forward(self, inputs: Union[torch.Tensor, Tuple[torch.Tensor, ...]]
                ) -> Tuple[torch.Tensor]:
        """Pool the last map of ``inputs``.

        Args:
            inputs (Tensor or tuple[Tensor]): ``(N, in_channels, H, W)`` maps.

        Returns:
            tuple[Tensor]: ``((N, out_channels), )``.
        """
        x = inputs[-1] if isinstance(inputs, (tuple, list)) else inputs
        if x.dim() != 4 or x.size(1) != self.in_channels:
            raise ValueError(
                f'{self.__class__.__name__} expects input of shape (N, '
                f'{self.in_channels}, H, W), but got {tuple(x.shape)}')
        if self.reduce is not None:
            x = self.reduce(x)
        # Newton-Schulz in half precision loses the trace normalization's
        # accuracy; the pooling is a small part of the network's cost.
        with torch.autocast(device_type=x.device.type, enabled=False):
            out = isqrt_cov(
                x.float() if x.dtype in (torch.float16, torch.bfloat16)
                else x, self.num_iter, triu=self.triu)
        return (out.flatten(1), )


#: (pattern, replacement) for the authors' keys, after DataParallel's
#: ``module.`` is dropped. Released files and GCP_Optimization's use the
#: ``MPNCOVResNet`` names; checkpoints of fast-MPN-COV's ``main.py`` hold its
#: ``Newmodel``: ``features`` = ``nn.Sequential`` of the ResNet's children
#: (0 conv1, 1 bn1, 4-7 layer1-4; when fine-tuning a released model also
#: 8 layer_reduce, 9 layer_reduce_bn), ``representation`` = ``MPNCOV`` with
#: the reduction in ``conv_dr_block`` (0 conv, 1 BN) when trained from
#: scratch, ``classifier`` = the FC layer.
MPNCOV_RESNET_RULES = (
    (r'layer_reduce_bn\.', 'neck.reduce.bn.'),
    (r'layer_reduce\.', 'neck.reduce.conv.'),
    (r'fc\.', 'head.fc.'),
    (r'(conv1|bn1|layer[1-4])\.', r'backbone.\1.'),
    (r'features\.0\.', 'backbone.conv1.'),
    (r'features\.1\.', 'backbone.bn1.'),
    (r'features\.4\.', 'backbone.layer1.'),
    (r'features\.5\.', 'backbone.layer2.'),
    (r'features\.6\.', 'backbone.layer3.'),
    (r'features\.7\.', 'backbone.layer4.'),
    (r'features\.8\.', 'neck.reduce.conv.'),
    (r'features\.9\.', 'neck.reduce.bn.'),
    (r'representation\.conv_dr_block\.0\.', 'neck.reduce.conv.'),
    (r'representation\.conv_dr_block\.1\.', 'neck.reduce.bn.'),
    (r'classifier\.', 'head.fc.'),
)


def convert_mpncov_resnet(state_dict: Dict[str, torch.Tensor]
                          ) -> Dict[str, torch.Tensor]:
    """Map the authors' ``MPNCOVResNet`` keys to an mmpretrain
    ``ImageClassifier`` (ResNet backbone, :class:`ISQRTCOVNeck`,
    ``LinearClsHead``).

    The authors' ResNet keys are torchvision's, as mmpretrain's; the
    reduction ``layer_reduce`` / ``layer_reduce_bn`` becomes
    ``neck.reduce.conv`` / ``neck.reduce.bn``; ``fc`` becomes ``head.fc``.
    Both use the row-major upper triangle, so ``fc`` needs no permutation.
    The layout of checkpoints saved by the authors' ``main.py``
    (``features.N``, ``representation.conv_dr_block``, ``classifier``; see
    :data:`MPNCOV_RESNET_RULES`) is accepted too, and DataParallel's
    ``module.`` prefix is dropped wherever ``main.py`` puts it (on the whole
    model, or ``features.module.`` when only ``features`` is wrapped).

    Raises:
        KeyError: a key that belongs to no part of the model.
    """
    out = {}
    for key, value in strip_prefix(state_dict).items():
        key = re.sub(r'^features\.module\.', 'features.', key)
        new = rename_by_rules(key, MPNCOV_RESNET_RULES,
                              'not an MPNCOVResNet checkpoint')
        out[new] = value
    return out
