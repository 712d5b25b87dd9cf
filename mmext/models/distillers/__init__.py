from .conv_bottleneck_connector import ConvBottleneckConnector
from .conv_connector import ConvConnector
from .det_kd_distiller import DetKDDistiller
from .eekd_distiller import EEKDDistiller, resolve_checkpoints
from .ensemble_attention import EnsembleAttention
from .kd_distiller import (KDDistiller, build_model_from_cfg,
                           extract_student_state_dict, load_model_cfg)
from .method_recorder import MethodCall, MethodCallRecorder
from .recorder import ModuleOutputsRecorder

__all__ = [
    'KDDistiller', 'DetKDDistiller', 'EEKDDistiller', 'EnsembleAttention',
    'ModuleOutputsRecorder', 'MethodCall', 'MethodCallRecorder',
    'ConvConnector', 'ConvBottleneckConnector', 'build_model_from_cfg',
    'extract_student_state_dict', 'load_model_cfg', 'resolve_checkpoints'
]
