from .conv_connector import ConvConnector
from .eekd_distiller import EEKDDistiller, resolve_checkpoints
from .ensemble_attention import EnsembleAttention
from .kd_distiller import (KDDistiller, build_model_from_cfg,
                           extract_student_state_dict)
from .recorder import ModuleOutputsRecorder

__all__ = [
    'KDDistiller', 'ModuleOutputsRecorder', 'ConvConnector',
    'build_model_from_cfg', 'extract_student_state_dict',
    'EEKDDistiller', 'EnsembleAttention', 'resolve_checkpoints'
]
