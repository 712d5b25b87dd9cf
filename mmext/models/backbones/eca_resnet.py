"""ECA-ResNet (Wang et al., CVPR 2020), on top of mmpretrain's ResNet.

`ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks
<https://arxiv.org/abs/1910.03151>`_; authors' code: BangguWu/ECANet
(``models/eca_resnet.py``).
"""
import re
from typing import Dict, Mapping, Optional, Sequence, Union

import torch
from mmpretrain.models.backbones.resnet import ResLayer, ResNet

from mmext.registry import MODELS
from mmext.utils.converter import check_converted, strip_prefix
from mmext.utils.validation import check_arg
from ..plugins.eca import ECALayer
from ..utils.attention_blocks import AttentionBasicBlock, AttentionBottleneck

#: Sentinel for ``eca_kernel_sizes``: the per-stage sizes of the authors'
#: released ImageNet checkpoints.
RELEASED = 'released'


class ECABasicBlock(AttentionBasicBlock):
    """mmpretrain's BasicBlock with ECA (``self.eca``) after ``norm2``,
    before the add.

    Args:
        in_channels (int): Input channels of this block.
        out_channels (int): Output channels of this block.
        eca_kernel_size (int, optional): Kernel size of the ECA module;
            ``None`` for the adaptive rule on ``out_channels``.
        eca_gamma (int): ``gamma`` of the adaptive rule. Defaults to 2.
        eca_b (int): ``b`` of the adaptive rule. Defaults to 1.
        **kwargs: Other arguments of
            :class:`mmpretrain.models.backbones.resnet.BasicBlock`.

    Shapes:
        - input: ``(N, in_channels, H, W)``
        - output: ``(N, out_channels, H / stride, W / stride)``
    """

    attention_name = 'eca'

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 eca_kernel_size: Optional[int] = None,
                 eca_gamma: int = 2,
                 eca_b: int = 1,
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, **kwargs)
        self.eca = ECALayer(
            out_channels,
            kernel_size=eca_kernel_size,
            gamma=eca_gamma,
            b=eca_b)


class ECABottleneck(AttentionBottleneck):
    """mmpretrain's Bottleneck with ECA (``self.eca``) after ``norm3``,
    before the add.

    Args:
        in_channels (int): Input channels of this block.
        out_channels (int): Output channels of this block.
        eca_kernel_size (int, optional): Kernel size of the ECA module;
            ``None`` for the adaptive rule on ``out_channels``.
        eca_gamma (int): ``gamma`` of the adaptive rule. Defaults to 2.
        eca_b (int): ``b`` of the adaptive rule. Defaults to 1.
        **kwargs: Other arguments of
            :class:`mmpretrain.models.backbones.resnet.Bottleneck`.

    Shapes:
        - input: ``(N, in_channels, H, W)``
        - output: ``(N, out_channels, H / stride, W / stride)``
    """

    attention_name = 'eca'

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 eca_kernel_size: Optional[int] = None,
                 eca_gamma: int = 2,
                 eca_b: int = 1,
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, **kwargs)
        self.eca = ECALayer(
            out_channels,
            kernel_size=eca_kernel_size,
            gamma=eca_gamma,
            b=eca_b)


@MODELS.register_module()
class ECAResNet(ResNet):
    """ECA-ResNet backbone: ResNet with an ECA module in every block.

    ECA sits after the last normalization of each residual block and before
    the residual addition (Fig. 2 of the paper and the authors' code), i.e.
    after ``norm2`` in a BasicBlock (depth 18/34) and after ``norm3`` in a
    Bottleneck (depth 50/101/152).

    Args:
        depth (int): Network depth, from {18, 34, 50, 101, 152}.
        eca_kernel_sizes (str | Sequence[int] | None): ECA kernel size of each
            stage. ``'released'`` (default) uses the sizes of the authors'
            released ImageNet checkpoints, see :attr:`released_kernel_sizes`
            (note that these do *not* follow the adaptive rule); ``None``
            applies the adaptive rule of Eq. (12) to each block's output
            channels; a sequence gives one positive odd size per stage.
        eca_gamma (int): ``gamma`` of the adaptive rule. Defaults to 2.
        eca_b (int): ``b`` of the adaptive rule. Defaults to 1.
        **kwargs: Other arguments of
            :class:`mmpretrain.models.backbones.ResNet`, e.g. ``out_indices``,
            ``frozen_stages``, ``norm_cfg``, ``norm_eval``, ``style``,
            ``deep_stem``, ``avg_down``, ``with_cp``, ``zero_init_residual``,
            ``drop_path_rate``, ``init_cfg``. The authors trained with
            ``zero_init_residual=False``; mmpretrain's default is True.

    Shapes:
        - input: ``(N, 3, H, W)``
        - output: a tuple with one ``(N, 64 * e * 2**i, H / 2**(i + 2),
          W / 2**(i + 2))`` map per stage ``i`` in ``out_indices``, where
          ``e`` is 1 for depth 18/34 and 4 otherwise.

    Example:
        >>> import torch
        >>> from mmext.models import ECAResNet
        >>> model = ECAResNet(depth=18, out_indices=(0, 1, 2, 3)).eval()
        >>> model.eca_kernel_sizes
        (3, 5, 7, 7)
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 64, 64))]
        [(1, 64, 16, 16), (1, 128, 8, 8), (1, 256, 4, 4), (1, 512, 2, 2)]
    """

    arch_settings = {
        18: (ECABasicBlock, (2, 2, 2, 2)),
        34: (ECABasicBlock, (3, 4, 6, 3)),
        50: (ECABottleneck, (3, 4, 6, 3)),
        101: (ECABottleneck, (3, 4, 23, 3)),
        152: (ECABottleneck, (3, 8, 36, 3))
    }

    #: Per-stage ECA kernel sizes of the authors' released checkpoints
    #: (``eca_resnet18_k3577``, ``eca_resnet34_k3357``, ...).
    released_kernel_sizes = {
        18: (3, 5, 7, 7),
        34: (3, 3, 5, 7),
        50: (3, 5, 5, 7),
        101: (3, 3, 5, 7),
        152: (3, 3, 5, 7)
    }

    def __init__(self,
                 depth: int,
                 eca_kernel_sizes: Union[str, Sequence[int], None] = RELEASED,
                 eca_gamma: int = 2,
                 eca_b: int = 1,
                 **kwargs) -> None:
        check_arg(self, 'depth', depth, choices=self.arch_settings)
        check_arg(self, 'eca_gamma', eca_gamma, float, low=0, low_open=True)
        check_arg(self, 'eca_b', eca_b, float)
        num_stages = kwargs.get('num_stages', 4)
        # Read by make_res_layer() while ResNet.__init__ builds the stages.
        self._eca_stage_kernel_sizes = self._resolve_kernel_sizes(
            depth, eca_kernel_sizes, num_stages)
        self._eca_gamma = eca_gamma
        self._eca_b = eca_b
        super().__init__(depth, **kwargs)
        # What each stage actually got (adaptive sizes resolved).
        self.eca_kernel_sizes = tuple(
            getattr(self, name)[0].eca.kernel_size for name in self.res_layers)

    def _resolve_kernel_sizes(self, depth, eca_kernel_sizes, num_stages):
        if eca_kernel_sizes is None:
            return (None, ) * num_stages
        if isinstance(eca_kernel_sizes, str):
            if eca_kernel_sizes != RELEASED:
                raise ValueError(
                    f'eca_kernel_sizes must be {RELEASED!r}, None or a '
                    f'sequence of ints, but got {eca_kernel_sizes!r}')
            return self.released_kernel_sizes[depth][:num_stages]
        sizes = tuple(eca_kernel_sizes)
        if len(sizes) != num_stages:
            raise ValueError(
                f'eca_kernel_sizes needs one size per stage ({num_stages}), '
                f'but got {eca_kernel_sizes!r}')
        # ECALayer validates each size (positive odd int).
        return sizes

    def train(self, mode: bool = True) -> 'ECAResNet':
        # mmpretrain's ResNet.train() returns None; nn.Module's returns self.
        super().train(mode)
        return self

    def make_res_layer(self, **kwargs) -> ResLayer:
        """Build one stage; ResNet.__init__ calls this once per stage in
        order, before appending the stage's name to ``self.res_layers``."""
        stage = len(self.res_layers)
        return ResLayer(
            eca_kernel_size=self._eca_stage_kernel_sizes[stage],
            eca_gamma=self._eca_gamma,
            eca_b=self._eca_b,
            **kwargs)


# ---------------------------------------------------------------------------
# Conversion of the authors' released checkpoints.
# ---------------------------------------------------------------------------

# Parameter-free keys a checkpoint may legitimately lack (pre-0.4.1 BN).

_BLOCK_KEY = re.compile(
    r'^layer(\d)\.(\d+)\.'
    r'(conv[123]\.weight|bn[123]\.(?:weight|bias|running_mean|running_var|'
    r'num_batches_tracked)|downsample\.[01]\.(?:weight|bias|running_mean|'
    r'running_var|num_batches_tracked)|eca\.conv\.weight)$')
_STEM_KEY = re.compile(r'^(conv1\.weight|bn1\.(?:weight|bias|running_mean|'
                       r'running_var|num_batches_tracked))$')
_FC_KEY = re.compile(r'^fc\.(weight|bias)$')


def infer_arch(state_dict: Mapping[str, torch.Tensor]) -> dict:
    """Read depth, ECA kernel sizes and classes from an authors' checkpoint.

    Args:
        state_dict (Mapping[str, Tensor]): The authors' ``state_dict``, with or
            without the ``module.`` prefix.

    Returns:
        dict: ``depth`` (int), ``eca_kernel_sizes`` (tuple, one per stage)
        and ``num_classes`` (int).
    """
    sd = strip_prefix(state_dict)
    blocks = {}
    for key in sd:
        m = re.match(r'^layer(\d)\.(\d+)\.', key)
        if m:
            stage, idx = int(m.group(1)), int(m.group(2))
            blocks[stage] = max(blocks.get(stage, 0), idx + 1)
    stage_blocks = tuple(blocks.get(i, 0) for i in range(1, 5))
    bottleneck = any(k.endswith('.conv3.weight') for k in sd)
    depth = None
    for d, (block, num) in ECAResNet.arch_settings.items():
        if num == stage_blocks and (block is ECABottleneck) == bottleneck:
            depth = d
    if depth is None:
        raise ValueError('not an ECA-ResNet checkpoint: blocks per stage '
                         f'{stage_blocks}, bottleneck={bottleneck}')
    sizes = []
    for stage in range(1, 5):
        key = f'layer{stage}.0.eca.conv.weight'
        if key not in sd:
            raise KeyError(f'ECA-ResNet checkpoint lacks {key!r}')
        sizes.append(int(sd[key].shape[-1]))
    if 'fc.weight' not in sd:
        raise KeyError("ECA-ResNet checkpoint lacks 'fc.weight'")
    return dict(
        depth=depth,
        eca_kernel_sizes=tuple(sizes),
        num_classes=int(sd['fc.weight'].shape[0]))


def _map_key(key: str) -> str:
    if _FC_KEY.match(key):
        return 'head.' + key
    if _STEM_KEY.match(key) or _BLOCK_KEY.match(key):
        # mmpretrain keeps torchvision's names (BN is named bn1/bn2/bn3).
        return 'backbone.' + key
    raise KeyError(f'unexpected key {key!r} in ECA-ResNet checkpoint')


def checkpoint_filter_fn(
        state_dict: Mapping[str, torch.Tensor],
        arch: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """Map an authors' ECA-ResNet ``state_dict`` to mmpretrain's keys.

    The authors' keys (``module.`` prefix from DataParallel, torchvision
    names) become the keys of an mmpretrain ``ImageClassifier`` with an
    :class:`ECAResNet` backbone (default BN) and a ``LinearClsHead``::

        module.conv1.weight                -> backbone.conv1.weight
        module.bn1.*                       -> backbone.bn1.*
        module.layer3.1.bn2.*              -> backbone.layer3.1.bn2.*
        module.layer2.0.downsample.{0,1}.* -> backbone.layer2.0.downsample.*
        module.layer4.2.eca.conv.weight    -> backbone.layer4.2.eca.conv.weight
        module.fc.{weight,bias}            -> head.fc.{weight,bias}

    The result is checked against the keys and shapes of the model it is
    meant for, so an incomplete or foreign checkpoint fails here, not at
    load time.

    Args:
        state_dict (Mapping[str, Tensor]): The authors' ``state_dict``.
        arch (int, optional): Expected depth; inferred when None.

    Returns:
        dict[str, Tensor]: The mapped ``state_dict``.
    """
    info = infer_arch(state_dict)
    if arch is not None and int(arch) != info['depth']:
        raise ValueError(f'expected an ECA-ResNet-{arch} checkpoint, but the '
                         f'keys describe ECA-ResNet-{info["depth"]}')
    sd = strip_prefix(state_dict)
    out = {_map_key(k): v for k, v in sd.items()}

    backbone = ECAResNet(
        info['depth'], eca_kernel_sizes=info['eca_kernel_sizes'])
    expected = {
        f'backbone.{k}': v.shape
        for k, v in backbone.state_dict().items()
    }
    expected['head.fc.weight'] = torch.Size(
        (info['num_classes'], backbone.feat_dim))
    expected['head.fc.bias'] = torch.Size((info['num_classes'], ))
    check_converted(out, expected, 'ECA-ResNet')
    return out
