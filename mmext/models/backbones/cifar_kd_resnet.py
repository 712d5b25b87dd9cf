"""CIFAR ResNets of the knowledge-distillation benchmark (resnet8 ... resnet110,
resnet8x4, resnet32x4).

The definitions follow the CIFAR model zoo used by CRD, mdistiller and the
WKD / EEKD experiments (``mdistiller/models/cifar/resnet.py``): a 3x3 stem,
three stages of basic blocks (``(depth - 2) / 6`` blocks each, strides
1, 2, 2) and 1x1-conv + BN shortcuts where the shape changes. The ``x4``
variants widen the stem to 32 and the stages to 64/128/256 channels.
"""
from typing import Sequence

from mmpretrain.models.backbones.resnet import BasicBlock
from mmpretrain.models.backbones.resnet_cifar import ResNet_CIFAR

from mmext.registry import MODELS
from mmext.utils.validation import check_arg


@MODELS.register_module()
class CIFARKDResNet(ResNet_CIFAR):
    """CIFAR ResNet of the KD benchmark, on top of mmpretrain's ResNet_CIFAR.

    Args:
        arch (str): One of :attr:`arch_presets` (``'resnet8x4'``,
            ``'resnet32x4'``, ``'resnet8'``, ..., ``'resnet110'``).
        out_indices (Sequence[int]): Stages (0, 1, 2) whose outputs are
            returned. Defaults to ``(2, )``.
        zero_init_residual (bool): Zero-init the last BN of every block. The
            benchmark code does not; defaults to False.
        **kwargs: Other arguments of
            :class:`mmpretrain.models.backbones.ResNet` (``frozen_stages``,
            ``norm_cfg``, ``norm_eval``, ``with_cp``, ``init_cfg``, ...).

    Shapes:
        - input: ``(N, 3, H, W)``
        - output: a tuple with, per index in ``out_indices``, a
          ``(N, C_i, H / s_i, W / s_i)`` tensor, where ``C_i`` is
          ``base_channels * 2**i`` and ``s_i`` is 1, 2, 4.
    """

    #: depth -> (block, blocks per stage); depth = 6n + 2.
    arch_settings = {
        depth: (BasicBlock, ((depth - 2) // 6, ) * 3)
        for depth in (8, 14, 20, 32, 44, 56, 110)
    }
    #: name -> (depth, stem_channels, base_channels).
    arch_presets = {
        'resnet8': (8, 16, 16),
        'resnet14': (14, 16, 16),
        'resnet20': (20, 16, 16),
        'resnet32': (32, 16, 16),
        'resnet44': (44, 16, 16),
        'resnet56': (56, 16, 16),
        'resnet110': (110, 16, 16),
        'resnet8x4': (8, 32, 64),
        'resnet32x4': (32, 32, 64),
    }

    def __init__(self,
                 arch: str = 'resnet8x4',
                 out_indices: Sequence[int] = (2, ),
                 zero_init_residual: bool = False,
                 **kwargs) -> None:
        check_arg(self, 'arch', arch, choices=self.arch_presets)
        depth, stem_channels, base_channels = self.arch_presets[arch]
        self.arch = arch
        super().__init__(
            depth,
            stem_channels=stem_channels,
            base_channels=base_channels,
            num_stages=3,
            strides=(1, 2, 2),
            dilations=(1, 1, 1),
            out_indices=tuple(out_indices),
            zero_init_residual=zero_init_residual,
            **kwargs)
