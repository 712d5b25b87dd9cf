from .pap_bbox_head import PAPShared2FCBBoxHead

__all__ = ['PAPShared2FCBBoxHead']
