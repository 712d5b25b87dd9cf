from .glance_focus_sample_frames import GlanceFocusSampleFrames
from .orientation_resize import OrientationResize
from .tcp_sample_frames import MultiOffsetSampleFrames

__all__ = [
    'OrientationResize', 'MultiOffsetSampleFrames', 'GlanceFocusSampleFrames'
]
