"""RoI extraction with torchvision's RoI operators (CPU and CUDA)."""
from typing import List

import torch.nn as nn
import torchvision.ops
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor
from torch.nn.modules.utils import _pair

from mmext.registry import MODELS
from mmext.utils.validation import check_arg

#: torchvision.ops layers with mmcv's (input, rois (K, 5)) interface.
TORCHVISION_ROI_LAYERS = ('RoIPool', 'RoIAlign')


@MODELS.register_module()
class TorchvisionRoIExtractor(SingleRoIExtractor):
    """:class:`SingleRoIExtractor` whose ``roi_layer`` type is taken from
    ``torchvision.ops`` instead of ``mmcv.ops``.

    mmcv's ``RoIPool`` has no CPU kernel; torchvision's has CPU and CUDA
    kernels and computes Caffe's RoI max pooling of Fast/Faster R-CNN
    (corners rounded after scaling, bins of ``(size + 1) / output_size``),
    the operator MLKP's prototxts use. Features ``(N, C, H, W)`` per level and
    RoIs ``(K, 5)`` give ``(K, C, *output_size)``.

    Args:
        roi_layer: ``dict(type='RoIPool' | 'RoIAlign', output_size=...,
            [sampling_ratio=..., aligned=...])``.
        Others as :class:`SingleRoIExtractor`.
    """

    def __init__(self, roi_layer: dict, *args, **kwargs) -> None:
        check_arg(self, 'roi_layer', roi_layer, dict)
        super().__init__(roi_layer, *args, **kwargs)

    def build_roi_layers(self, layer_cfg: dict,
                         featmap_strides: List[int]) -> nn.ModuleList:
        cfg = dict(layer_cfg)
        layer_type = cfg.pop('type')
        check_arg(self, 'roi_layer.type', layer_type,
                  choices=TORCHVISION_ROI_LAYERS)
        layer_cls = getattr(torchvision.ops, layer_type)
        cfg['output_size'] = _pair(cfg['output_size'])
        return nn.ModuleList(
            [layer_cls(spatial_scale=1 / s, **cfg) for s in featmap_strides])
