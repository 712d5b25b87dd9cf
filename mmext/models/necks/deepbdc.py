"""DeepBDC: Brownian distance covariance pooling (Xie et al., CVPR 2022).

`Joint Distribution Matters: Deep Brownian Distance Covariance for Few-Shot
Classification <https://arxiv.org/abs/2204.04567>`_; authors' code:
Fei-Long121/DeepBDC (``methods/bdc_module.py``).

The BDC matrix of a feature map treats its ``d`` channels as the
observations: ``a_kl = sqrt(exp(t) ||x_k - x_l||^2 + eps)`` over the ``M = h w``
positions, double-centred (Sec. 3.2, Eq. 4); its upper triangle (diagonal
included, no sqrt(2) weighting) is the image representation. The op with its
closed-form backward is :func:`mmext.ops.bdc_pool`; :class:`BDCPooling` adds
the optional reduction, the learnable temperature and the checks that name
config keys.

Also here: :func:`checkpoint_filter_fn`, the mapping of the authors' saved
keys (``feature.*``, ``dcov.*``, ``classifier.*``) to mmext's models.
"""
import math
import re
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmext.ops import bdc_pool
from mmext.registry import MODELS
from mmext.utils.converter import rename_by_rules, strip_prefix
from mmext.utils.validation import check_arg

__all__ = ['BDCPooling', 'checkpoint_filter_fn']


@MODELS.register_module()
class BDCPooling(BaseModule):
    """Optional 1x1 reduction, then the BDC matrix's upper triangle.

    The reduction (Conv1x1 without bias + BN + ReLU) exists only when
    ``reduced_channels`` differs from ``in_channels``, as the authors build
    it (so Meta DeepBDC on miniImageNet, 640 -> 640, has the temperature as
    its only parameter). The temperature ``t`` is learnable, initialised to
    ``log(1 / (2 h w))`` of the expected map (``num_positions = h w``).

    Args:
        in_channels (int): Channels of the backbone's map. Defaults to 640.
        reduced_channels (int, optional): ``d``; None or ``in_channels``: no
            reduction. Defaults to None.
        num_positions (int): ``h w`` of the expected map, for the
            temperature's initial value (100 for ResNet-12 at 84 px, 196 for
            ResNet-18 at 224 px). Defaults to 100.
        temperature_init (float, optional): Initial ``t`` instead of
            ``log(1 / (2 num_positions))``.
        dropout_rate (float): Dropout on the output (the authors'
            pretraining classifier input: 0.8 / 0.6 Meta, 0.5 STL).
            Defaults to 0.
        eps (float): Added under the square root (see
            :func:`mmext.ops.bdc_pool`). Defaults to 1e-5.
        norm_cfg (dict): Norm of the reduction. Defaults to BN.
        act_cfg (dict): Activation of the reduction. Defaults to ReLU.
        init_cfg (dict, optional): Initialisation config.

    Shapes:
        - input: ``(B, in_channels, h, w)`` or a tuple whose last is that
        - output: a 1-tuple ``(B, d (d + 1) / 2)``
    """

    def __init__(self,
                 in_channels: int = 640,
                 reduced_channels: Optional[int] = None,
                 num_positions: int = 100,
                 temperature_init: Optional[float] = None,
                 dropout_rate: float = 0.,
                 eps: float = 1e-5,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_arg(self, 'in_channels', in_channels, int, low=2)
        check_arg(self, 'reduced_channels', reduced_channels, int, low=2,
                  allow_none=True)
        check_arg(self, 'num_positions', num_positions, int, low=2)
        check_arg(self, 'temperature_init', temperature_init, float,
                  allow_none=True)
        check_arg(self, 'dropout_rate', dropout_rate, float, low=0, high=1)
        check_arg(self, 'eps', eps, float, low=0)
        if temperature_init is not None and not math.isfinite(
                temperature_init):
            raise ValueError(
                f'BDCPooling: temperature_init={temperature_init!r} (float) '
                'is invalid; expected a finite float (exp(t) scales the '
                'squared distances)')
        self.in_channels = in_channels
        dim = reduced_channels or in_channels
        if dim != in_channels:
            self.reduce = ConvModule(
                in_channels,
                dim,
                kernel_size=1,
                bias=False,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
        else:
            self.reduce = None
        if temperature_init is None:
            temperature_init = math.log(1. / (2 * num_positions))
        # (1, 1) as the authors' ``dcov.temperature``
        self.temperature = nn.Parameter(
            torch.full((1, 1), float(temperature_init)))
        self.eps = eps
        self.dim = dim
        self.out_channels = dim * (dim + 1) // 2
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate > 0 \
            else nn.Identity()

    def forward(self, inputs: Union[Tensor, Tuple[Tensor, ...]]
                ) -> Tuple[Tensor]:
        x = inputs[-1] if isinstance(inputs, (tuple, list)) else inputs
        if x.dim() != 4 or x.size(1) != self.in_channels:
            raise ValueError(
                f'BDCPooling expects (B, {self.in_channels}, h, w) maps '
                f'(model.neck.in_channels), got {tuple(x.shape)}')
        if x.size(2) * x.size(3) < 2:
            raise ValueError(
                f'BDCPooling: the feature map has {x.size(2)} x {x.size(3)} '
                '= 1 position; Brownian distance covariance needs >= 2 '
                '(enlarge the input, e.g. the pipeline crop_size/scale, or '
                'reduce the backbone strides)')
        if not torch.isfinite(self.temperature).all():
            raise ValueError(
                f'BDCPooling: temperature={self.temperature.item()!r} is not '
                'finite (model.neck.temperature; set by temperature_init or '
                'diverged in training)')
        if not torch.isfinite(x).all():
            raise ValueError(
                'BDCPooling: the input feature map holds '
                f'{int((~torch.isfinite(x)).sum())} NaN/Inf values '
                '(from model.backbone)')
        if self.reduce is not None:
            x = self.reduce(x)
        # square roots of small distances lose precision in half precision
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()
        with torch.autocast(device_type=x.device.type, enabled=False):
            out = bdc_pool(x, self.temperature.to(x.dtype), self.eps)
        return (self.dropout(out), )


#: (pattern, replacement) for the authors' keys (``BaselineTrain`` /
#: ``MetaDeepBDC`` / ``STLDeepBDC`` state dicts), ResNet-12 and the neck.
#: ResNet-18's ``feature.trunk.N`` keys are mapped by :func:`_trunk_key`.
DEEPBDC_RULES = (
    (r'feature\.(layer[1-4]\.0\.)', r'backbone.\1'),
    (r'dcov\.temperature$', 'neck.temperature'),
    (r'dcov\.conv_dr_block\.0\.', 'neck.reduce.conv.'),
    (r'dcov\.conv_dr_block\.1\.', 'neck.reduce.bn.'),
    (r'classifier\.', 'head.fc.'),
)
#: ResNet-18 (CloserLook) ``SimpleBlock`` names -> mmext's.
_BLOCK18 = {'C1': 'conv1', 'BN1': 'bn1', 'C2': 'conv2', 'BN2': 'bn2',
            'shortcut': 'downsample.0', 'BNshortcut': 'downsample.1'}


def _trunk_key(key: str) -> Optional[str]:
    """``feature.trunk.N...`` of the authors' ResNet-18 -> mmext's key."""
    m = re.match(r'feature\.trunk\.(\d+)\.(.*)$', key)
    if m is None:
        return None
    n, rest = int(m.group(1)), m.group(2)
    if n in (0, 1):
        return f'backbone.{"conv1" if n == 0 else "bn1"}.{rest}'
    if 4 <= n <= 11:
        i, j = divmod(n - 4, 2)
        name, _, tail = rest.partition('.')
        if name in _BLOCK18:
            return f'backbone.layer{i + 1}.{j}.{_BLOCK18[name]}.{tail}'
    raise KeyError(f'{key}: not a layer of the DeepBDC ResNet-18 trunk')


def checkpoint_filter_fn(state_dict: Dict[str, Tensor]) -> Dict[str, Tensor]:
    """Map the authors' state dict (``checkpoint['state']``) to mmext's.

    ``feature.*`` (ResNet-12 ``layer{1..4}.0.*`` or ResNet-18
    ``trunk.N.*``) -> ``backbone.*`` (:class:`DeepBDCResNet12` /
    :class:`DeepBDCResNet18`), ``dcov.*`` -> ``neck.*`` (:class:`BDCPooling`),
    ``classifier.*`` (pretraining only) -> ``head.fc.*``. The result loads
    into an ``EpisodicClassifier`` (meta / test models) or an mmpretrain
    ``ImageClassifier`` with a ``LinearClsHead`` (pretraining models).

    Raises:
        KeyError: a key that belongs to no part of the model.
    """
    out = {}
    for key, value in strip_prefix(state_dict).items():
        new = _trunk_key(key)
        if new is None:
            new = rename_by_rules(key, DEEPBDC_RULES,
                                  'not a DeepBDC checkpoint')
        out[new] = value
    return out
