"""ACmix-ResNet (Pan et al., CVPR 2022), on top of mmpretrain's ResNet.

`On the Integration of Self-Attention and Convolution
<https://arxiv.org/abs/2111.14556>`_; authors' code: LeapLabTHU/ACmix
(``ResNet/ResNet_ImageNet.py``).
"""
from mmpretrain.models.backbones.resnet import Bottleneck, ResLayer, ResNet

from mmext.registry import MODELS
from mmext.utils.validation import check_arg
from ..plugins.acmix import ACmix


class ACmixBottleneck(Bottleneck):
    """mmpretrain's Bottleneck with :class:`ACmix` in place of the 3x3 conv.

    ACmix takes the 3x3 convolution's stride (``style='pytorch'``) and is
    followed by ``norm2`` and the activation, as in the authors' block.

    Args:
        in_channels (int): Input channels of this block.
        out_channels (int): Output channels of this block.
        kernel_att (int): ACmix attention window. Defaults to 7.
        num_heads (int): ACmix attention heads. Defaults to 4.
        kernel_conv (int): ACmix convolution kernel. Defaults to 3.
        **kwargs: Other arguments of
            :class:`mmpretrain.models.backbones.resnet.Bottleneck`.

    Shapes:
        - input: ``(N, in_channels, H, W)``
        - output: ``(N, out_channels, ceil(H / stride), ceil(W / stride))``
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_att: int = 7,
                 num_heads: int = 4,
                 kernel_conv: int = 3,
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, **kwargs)
        if self.dilation != 1:
            raise ValueError('ACmixBottleneck does not support dilation, but '
                             f'got dilation={self.dilation}')
        self.conv2 = ACmix(
            self.mid_channels,
            self.mid_channels,
            kernel_att=kernel_att,
            num_heads=num_heads,
            kernel_conv=kernel_conv,
            stride=self.conv2_stride)


@MODELS.register_module()
class ACmixResNet(ResNet):
    """ACmix-ResNet backbone: every bottleneck's 3x3 conv becomes ACmix.

    Depths 26/38/50 have (1, 2, 4, 1) / (2, 3, 5, 2) / (3, 4, 6, 3) blocks
    per stage (the authors' ``--layers``); the stem, the 1x1 convolutions and
    the downsampling shortcuts are those of ResNet-50 (torchvision layout).

    Initialization: after mmpretrain's (Kaiming for convolutions, BN to 1/0)
    each ACmix gets its shift kernels and ``rate1 = rate2 = 0.5`` back (the
    paper's Sec. 4.2). The authors' ``ResNet_ImageNet.py`` runs its Kaiming
    loop after the modules are built and so overwrites the shift kernels
    of its ResNets; mmext keeps the paper's initialization.

    Args:
        depth (int): Network depth, from {26, 38, 50}.
        kernel_att (int): Attention window of every ACmix. Defaults to 7.
        num_heads (int): Attention heads of every ACmix. Defaults to 4.
        kernel_conv (int): Convolution kernel of every ACmix. Defaults to 3.
        **kwargs: Other arguments of
            :class:`mmpretrain.models.backbones.ResNet`, e.g. ``out_indices``,
            ``frozen_stages``, ``norm_cfg``, ``norm_eval``, ``with_cp``,
            ``zero_init_residual``, ``drop_path_rate``, ``init_cfg``. The
            authors trained with ``zero_init_residual=False``.

    Shapes:
        - input: ``(N, 3, H, W)``
        - output: a tuple with one ``(N, 256 * 2**i, H_i, W_i)`` map per
          stage ``i`` in ``out_indices``, ``H_i = ceil(H / 2**(i + 2))`` for
          ``H`` divisible by 4.

    Example:
        >>> import torch
        >>> from mmext.models import ACmixResNet
        >>> model = ACmixResNet(26, out_indices=(0, 1, 2, 3)).eval()
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 64, 64))]
        [(1, 256, 16, 16), (1, 512, 8, 8), (1, 1024, 4, 4), (1, 2048, 2, 2)]
    """

    arch_settings = {
        26: (ACmixBottleneck, (1, 2, 4, 1)),
        38: (ACmixBottleneck, (2, 3, 5, 2)),
        50: (ACmixBottleneck, (3, 4, 6, 3)),
    }

    def __init__(self,
                 depth: int,
                 kernel_att: int = 7,
                 num_heads: int = 4,
                 kernel_conv: int = 3,
                 **kwargs) -> None:
        check_arg(self, 'depth', depth, choices=self.arch_settings)
        # Read by make_res_layer() while ResNet.__init__ builds the stages.
        self._acmix_cfg = dict(
            kernel_att=kernel_att,
            num_heads=num_heads,
            kernel_conv=kernel_conv)
        super().__init__(depth, **kwargs)

    def make_res_layer(self, **kwargs) -> ResLayer:
        """Build one stage with ACmix bottlenecks."""
        return ResLayer(**self._acmix_cfg, **kwargs)

    def init_weights(self) -> None:
        super().init_weights()
        if (isinstance(self.init_cfg, dict)
                and self.init_cfg['type'] == 'Pretrained'):
            return
        for m in self.modules():
            if isinstance(m, ACmix):
                m.reset_parameters()

    def train(self, mode: bool = True) -> 'ACmixResNet':
        # mmpretrain's ResNet.train() returns None; nn.Module's returns self.
        super().train(mode)
        return self
