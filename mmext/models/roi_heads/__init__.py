from .pap_bbox_head import PAPShared2FCBBoxHead
from .py_faster_rcnn_bbox_head import (PyFasterRCNNBBoxHead,
                                       PyFasterRCNNShared2FCBBoxHead)
from .torchvision_roi_extractor import TorchvisionRoIExtractor

__all__ = [
    'PAPShared2FCBBoxHead', 'PyFasterRCNNBBoxHead',
    'PyFasterRCNNShared2FCBBoxHead', 'TorchvisionRoIExtractor'
]
