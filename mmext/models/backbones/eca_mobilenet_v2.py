"""ECA-MobileNetV2 (Wang et al., CVPR 2020), on top of mmpretrain's
MobileNetV2.

`ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks
<https://arxiv.org/abs/1910.03151>`_; authors' code: BangguWu/ECANet
(``models/eca_mobilenetv2.py``).
"""
import re
from typing import Dict, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmpretrain.models.backbones import MobileNetV2
from mmpretrain.models.backbones.mobilenet_v2 import InvertedResidual

from mmext.registry import MODELS
from mmext.utils.converter import check_converted, strip_prefix
from mmext.utils.validation import check_arg
from ..plugins.eca import ECALayer
from .eca_resnet import RELEASED


class ECAInvertedResidual(InvertedResidual):
    """mmpretrain's InvertedResidual with ECA after the projection conv+BN.

    As in the authors' code, ECA rescales the output of the linear 1x1
    projection (conv + BN, no activation), before the residual addition.

    Args:
        in_channels (int): Input channels of the block.
        out_channels (int): Output channels of the block.
        stride (int): Stride of the depthwise 3x3 convolution.
        expand_ratio (int): Hidden channels are ``in_channels * expand_ratio``.
        eca_kernel_size (int, optional): Kernel size of the ECA module;
            ``None`` for the adaptive rule on ``out_channels``.
        eca_gamma (int): ``gamma`` of the adaptive rule. Defaults to 2.
        eca_b (int): ``b`` of the adaptive rule. Defaults to 1.
        **kwargs: Other arguments of mmpretrain's ``InvertedResidual``
            (``conv_cfg``, ``norm_cfg``, ``act_cfg``, ``with_cp``,
            ``init_cfg``).

    Shapes:
        - input: ``(N, in_channels, H, W)``
        - output: ``(N, out_channels, H / stride, W / stride)``
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int,
                 expand_ratio: int,
                 eca_kernel_size: Optional[int] = None,
                 eca_gamma: int = 2,
                 eca_b: int = 1,
                 **kwargs) -> None:
        super().__init__(in_channels, out_channels, stride, expand_ratio,
                         **kwargs)
        self.eca = ECALayer(
            out_channels,
            kernel_size=eca_kernel_size,
            gamma=eca_gamma,
            b=eca_b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:

        def _inner_forward(x):
            out = self.eca(self.conv(x))
            return x + out if self.use_res_connect else out

        if self.with_cp and x.requires_grad:
            return cp.checkpoint(_inner_forward, x, use_reentrant=False)
        return _inner_forward(x)


@MODELS.register_module()
class ECAMobileNetV2(MobileNetV2):
    """ECA-MobileNetV2 backbone: ECA in every inverted residual block.

    Args:
        eca_kernel_sizes (str | Sequence[int] | None): ECA kernel size of each
            of the 7 stages (``layer1`` ... ``layer7``). ``'released'``
            (default) is the authors' rule, ``k = 1`` for stages whose base
            width (before ``widen_factor``) is below 96 and ``k = 3``
            otherwise, i.e. ``(1, 1, 1, 1, 3, 3, 3)``, as in their released
            ``eca_mobilenetv2_k13``; ``None`` applies the adaptive rule of
            Eq. (12) to each block's output channels; a sequence gives one
            positive odd size per stage.
        eca_gamma (int): ``gamma`` of the adaptive rule. Defaults to 2.
        eca_b (int): ``b`` of the adaptive rule. Defaults to 1.
        **kwargs: Other arguments of
            :class:`mmpretrain.models.backbones.MobileNetV2`
            (``widen_factor``, ``out_indices``, ``frozen_stages``,
            ``conv_cfg``, ``norm_cfg``, ``act_cfg``, ``norm_eval``,
            ``with_cp``, ``init_cfg``).

    Shapes:
        - input: ``(N, 3, H, W)``
        - output: a tuple with one map per index in ``out_indices``; index 7
          (default) is ``(N, 1280, H / 32, W / 32)`` for
          ``widen_factor <= 1``.
    """

    #: The authors' rule for their released checkpoint, one size per stage.
    released_kernel_sizes = tuple(
        1 if channel < 96 else 3
        for _, channel, _, _ in MobileNetV2.arch_settings)

    def __init__(self,
                 eca_kernel_sizes: Union[str, Sequence[int], None] = RELEASED,
                 eca_gamma: int = 2,
                 eca_b: int = 1,
                 **kwargs) -> None:
        check_arg(self, 'eca_gamma', eca_gamma, float, low=0, low_open=True)
        check_arg(self, 'eca_b', eca_b, float)
        num_stages = len(self.arch_settings)
        if eca_kernel_sizes is None:
            sizes = (None, ) * num_stages
        elif isinstance(eca_kernel_sizes, str):
            if eca_kernel_sizes != RELEASED:
                raise ValueError(
                    f'eca_kernel_sizes must be {RELEASED!r}, None or a '
                    f'sequence of ints, but got {eca_kernel_sizes!r}')
            sizes = self.released_kernel_sizes
        else:
            sizes = tuple(eca_kernel_sizes)
            if len(sizes) != num_stages:
                raise ValueError(
                    f'eca_kernel_sizes needs one size per stage '
                    f'({num_stages}), but got {eca_kernel_sizes!r}')
        # Read by make_layer() while MobileNetV2.__init__ builds the stages.
        self._eca_stage_kernel_sizes = sizes
        self._eca_gamma = eca_gamma
        self._eca_b = eca_b
        super().__init__(**kwargs)
        # What each stage actually got (adaptive sizes resolved).
        self.eca_kernel_sizes = tuple(
            getattr(self, name)[0].eca.kernel_size
            for name in self.layers[:num_stages])

    def train(self, mode: bool = True) -> 'ECAMobileNetV2':
        # mmpretrain's MobileNetV2.train() returns None; nn.Module's, self.
        super().train(mode)
        return self

    def make_layer(self, out_channels: int, num_blocks: int, stride: int,
                   expand_ratio: int) -> nn.Sequential:
        """Stack ECA inverted residual blocks into one stage.

        MobileNetV2.__init__ calls this once per stage in order, before
        appending the stage's name to ``self.layers``.
        """
        kernel_size = self._eca_stage_kernel_sizes[len(self.layers)]
        layers = []
        for i in range(num_blocks):
            layers.append(
                ECAInvertedResidual(
                    self.in_channels,
                    out_channels,
                    stride if i == 0 else 1,
                    expand_ratio=expand_ratio,
                    eca_kernel_size=kernel_size,
                    eca_gamma=self._eca_gamma,
                    eca_b=self._eca_b,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg,
                    with_cp=self.with_cp))
            self.in_channels = out_channels
        return nn.Sequential(*layers)


# ---------------------------------------------------------------------------
# Conversion of the authors' released checkpoint.
# ---------------------------------------------------------------------------


def _block_names():
    """(stage, index, expand_ratio) of the authors' ``features.1`` ...
    ``features.17``, in order."""
    names = []
    for stage, (t, _, n, _) in enumerate(MobileNetV2.arch_settings, 1):
        names.extend((stage, i, t) for i in range(n))
    return names


_BN = r'(?:weight|bias|running_mean|running_var|num_batches_tracked)'
# Inside an authors' block: (regex on the part after 'features.{i}.conv.',
# replacement after 'backbone.layer{s}.{j}.'), for expand_ratio == 1 and != 1.
_BLOCK_RULES = {
    True: [  # dw ConvBNReLU, pw-linear conv, BN, ECA
        (r'^0\.0\.weight$', 'conv.0.conv.weight'),
        (rf'^0\.1\.({_BN})$', r'conv.0.bn.\1'),
        (r'^1\.weight$', 'conv.1.conv.weight'),
        (rf'^2\.({_BN})$', r'conv.1.bn.\1'),
        (r'^3\.conv\.weight$', 'eca.conv.weight'),
    ],
    False: [  # pw ConvBNReLU, dw ConvBNReLU, pw-linear conv, BN, ECA
        (r'^([01])\.0\.weight$', r'conv.\1.conv.weight'),
        (rf'^([01])\.1\.({_BN})$', r'conv.\1.bn.\2'),
        (r'^2\.weight$', 'conv.2.conv.weight'),
        (rf'^3\.({_BN})$', r'conv.2.bn.\1'),
        (r'^4\.conv\.weight$', 'eca.conv.weight'),
    ],
}


def map_torchvision_key(key: str) -> str:
    """torchvision MobileNetV2 key (``features.N...``, ``classifier.1``) ->
    mmpretrain's ``backbone.*`` / ``head.fc.*``."""
    m = re.match(r'^features\.(\d+)\.(.*)$', key)
    if m:
        idx, rest = int(m.group(1)), m.group(2)
        blocks = _block_names()
        if idx in (0, len(blocks) + 1):  # first / last ConvBNReLU
            name = 'conv1' if idx == 0 else 'conv2'
            m2 = re.match(rf'^(?:0\.(weight)|1\.({_BN}))$', rest)
            if m2:
                return (f'backbone.{name}.conv.{m2.group(1)}' if m2.group(1)
                        else f'backbone.{name}.bn.{m2.group(2)}')
        elif 1 <= idx <= len(blocks) and rest.startswith('conv.'):
            stage, i, t = blocks[idx - 1]
            for pattern, repl in _BLOCK_RULES[t == 1]:
                new, count = re.subn(pattern, repl, rest[len('conv.'):])
                if count:
                    return f'backbone.layer{stage}.{i}.{new}'
    m = re.match(r'^classifier\.1\.(weight|bias)$', key)
    if m:
        return f'head.fc.{m.group(1)}'
    raise KeyError(f'unexpected key {key!r} in ECA-MobileNetV2 checkpoint')


def infer_arch(state_dict: Mapping[str, torch.Tensor]) -> dict:
    """Read ECA kernel sizes and classes from an authors' checkpoint.

    Args:
        state_dict (Mapping[str, Tensor]): The authors' ``state_dict``, with or
            without the ``module.`` prefix.

    Returns:
        dict: ``eca_kernel_sizes`` (tuple, one per stage) and ``num_classes``.
    """
    sd = strip_prefix(state_dict)
    per_stage: Dict[int, set] = {}
    for idx, (stage, _, t) in enumerate(_block_names(), 1):
        key = f'features.{idx}.conv.{3 if t == 1 else 4}.conv.weight'
        if key not in sd:
            raise KeyError(f'ECA-MobileNetV2 checkpoint lacks {key!r}')
        per_stage.setdefault(stage, set()).add(int(sd[key].shape[-1]))
    for stage, sizes in per_stage.items():
        if len(sizes) != 1:
            raise ValueError(f'ECA kernel sizes differ inside stage {stage} '
                             f'({sorted(sizes)}); ECAMobileNetV2 takes one '
                             'size per stage')
    if 'classifier.1.weight' not in sd:
        raise KeyError(
            "ECA-MobileNetV2 checkpoint lacks 'classifier.1.weight'")
    return dict(
        eca_kernel_sizes=tuple(per_stage[s].pop() for s in sorted(per_stage)),
        num_classes=int(sd['classifier.1.weight'].shape[0]))


def checkpoint_filter_fn(
        state_dict: Mapping[str, torch.Tensor],
        arch: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """Map the authors' ECA-MobileNetV2 ``state_dict`` to mmpretrain's keys.

    The authors' ``features`` sequence (``module.`` prefix from DataParallel)
    becomes the stages of an mmpretrain ``ImageClassifier`` with an
    :class:`ECAMobileNetV2` backbone (widen factor 1.0, default BN) and a
    ``LinearClsHead``. ``features.1`` ... ``features.17`` are the 17 blocks in
    stage order (1, 2, 3, 4, 3, 3, 1 blocks)::

        features.0.{0,1}.*              -> backbone.conv1.{conv,bn}.*
        features.1.conv.0.{0,1}.*       -> backbone.layer1.0.conv.0.{conv,bn}.*
        features.1.conv.{1,2}.*         -> backbone.layer1.0.conv.1.{conv,bn}.*
        features.1.conv.3.conv.weight   -> backbone.layer1.0.eca.conv.weight
        features.k.conv.{0,1}.{0,1}.*   -> backbone.layerS.j.conv.{0,1}.
                                           {conv,bn}.*           (k >= 2)
        features.k.conv.{2,3}.*         -> backbone.layerS.j.conv.2.{conv,bn}.*
        features.k.conv.4.conv.weight   -> backbone.layerS.j.eca.conv.weight
        features.18.{0,1}.*             -> backbone.conv2.{conv,bn}.*
        classifier.1.{weight,bias}      -> head.fc.{weight,bias}

    The result is checked against the keys and shapes of the model it is
    meant for.

    Args:
        state_dict (Mapping[str, Tensor]): The authors' ``state_dict``.
        arch (str, optional): Unused apart from a check; only
            ``'mobilenet_v2'`` (widen factor 1.0) was released.

    Returns:
        dict[str, Tensor]: The mapped ``state_dict``.
    """
    if arch not in (None, 'mobilenet_v2'):
        raise ValueError(f'unknown ECA-MobileNetV2 arch {arch!r}')
    info = infer_arch(state_dict)
    sd = strip_prefix(state_dict)
    out = {map_torchvision_key(k): v for k, v in sd.items()}
    backbone = ECAMobileNetV2(eca_kernel_sizes=info['eca_kernel_sizes'])
    expected = {
        f'backbone.{k}': v.shape
        for k, v in backbone.state_dict().items()
    }
    expected['head.fc.weight'] = torch.Size(
        (info['num_classes'], backbone.out_channel))
    expected['head.fc.bias'] = torch.Size((info['num_classes'], ))
    check_converted(out, expected, 'ECA-MobileNetV2')
    return out
