"""Every mmext model component rejects a wrong-typed argument with one
message naming the component, the argument, the value and its type (built
through the registry, as a config builds it)."""
import pytest
from mmengine.registry import MODELS

import mmext  # noqa: F401

#: type -> (valid arguments, the wrong-typed argument and its value)
CASES = {
    'ECAResNet': ({}, 'depth', '18'),
    'ECAMobileNetV2': ({}, 'eca_gamma', '2'),
    'GSoPResNet': ({}, 'depth', '50'),
    'ACmixResNet': ({}, 'depth', '50'),
    'ACmixSwinTransformer': ({}, 'kernel_conv', '3'),
    'DAT': ({}, 'window_size', 7.0),
    'SoViT': ({}, 'img_size', '224'),
    'CIFARKDResNet': ({}, 'arch', 8),
    'CIFARWideResNet': ({}, 'drop_rate', '0.1'),
    'CIFARShuffleNetV1': ({}, 'groups', '3'),
    'MobileNetV1': ({}, 'widen_factor', '1.0'),
    'ISQRTCOVNeck': ({}, 'in_channels', '2048'),
    'MLKPNeck': ({}, 'fusion_channels', 1024.0),
    'VGG16Caffe': ({}, 'frozen_stages', '2'),
    'ResNetLastBlocks': (dict(depth=50), 'num_last_blocks', '2'),
    'PyFasterRCNNBBoxHead': ({}, 'reg_class_agnostic', 'no'),
    'PyFasterRCNNShared2FCBBoxHead': ({}, 'dropout_ratio', '0.5'),
    'TorchvisionRoIExtractor': (dict(out_channels=8, featmap_strides=[16]),
                                'roi_layer', 'RoIPool'),
    'SoViTHead': (dict(num_classes=10), 'in_channels', '384'),
    'TCPHead': (dict(num_classes=10), 'num_segments', '8'),
    'PreActResNet': ({}, 'depth', '152'),
    'ECALayer': ({}, 'in_channels', '64'),
    'GSoPChannelBlock': (dict(in_channels=64), 'reduced_channels', '128'),
    'GSoPPositionBlock': (dict(in_channels=64), 'pool_size', 8.0),
    'ACmix': (dict(in_channels=64, out_channels=64), 'kernel_att', '7'),
    'KDLoss': ({}, 'tau', '4'),
    'EnsembleKDLoss': ({}, 'tau', None),
    'WKDLogitLoss': ({}, 'temperature', '4'),
    'WKDFeatureLoss': ({}, 'grid', '1'),
    'ConvConnector': (dict(in_channels=8), 'out_channels', '16'),
    'ConvBottleneckConnector': (dict(in_channels=8, out_channels=16),
                                'hidden_channels', 256.0),
    'EnsembleAttention': (dict(student_channels=8, teacher_channels=16),
                          'embed_dims', '128'),
    'EEKDDistiller': (dict(student={}, teacher={}), 'num_teachers', '5'),
    'DetKDDistiller': ({}, 'share_rois', 'yes'),
    'PAPLoss': ({}, 'num_topk', 1e5),
    'PAPRetinaHead': ({}, 'reg_input', 1),
    'PAPRPNHead': ({}, 'reg_input', None),
    'PAPShared2FCBBoxHead': ({}, 'reg_input', b'giou'),
    'UniGradLoss': ({}, 'rho', '0.99'),
    'TemporalCausalMaskLoss': ({}, 'future_discount', '0.9'),
    'StyleContrastiveLoss': ({}, 'temperature', '0.1'),
    'UniGrad': (dict(backbone={}, neck={}), 'base_momentum', 1.004),
    'PrototypeHead': ({}, 'metric', 'euclidean'),
    'LogisticRegressionHead': ({}, 'max_iter', 100.0),
    'EpisodicClassifier': (dict(backbone={}), 'neck', 'gap'),
    'DeepBDCResNet12': ({}, 'frozen_stages', '1'),
    'DeepBDCResNet18': ({}, 'norm_eval', 1),
    'BDCPooling': ({}, 'reduced_channels', 128.0),
    'DAPL': (dict(clip_cfg=dict(model_name='RN50'), classnames=['a', 'b']),
             'n_ctx', '16'),
    'UDADataPreprocessor': ({}, 'pad_size_divisor', '1'),
    'TAMTViT': ({}, 'adapter_indices', 10),
    'GTMTNeck': ({}, 'num_groups', '4'),
    'GFNet': (dict(global_encoder={}, classifier={}, policy={}),
              'patch_size', '96'),
    'GFNetHead': (dict(in_channels=8), 'mode', 'rnn'),
    'GFNetPolicy': (dict(in_channels=8, state_size=3), 'hidden_dim', '256'),
    'RegNetY': ({}, 'se_ratio', '0.25'),
    'GenMobileNetV3': ({}, 'widen_factor', '1.25'),
    'AdaFocusV2': (dict(global_backbone={}, local_backbone={}, policy={},
                        classifier={}, num_classes=5), 'patch_size', '128'),
    'AdaFocusV2Head': (dict(in_channels=8, num_classes=5), 'hidden_dim',
                       '4096'),
    'AdaFocusV2Policy': (dict(in_channels=8, state_size=7), 'hidden_dim',
                         '2048'),
    'AdaFocusV2MLPPolicy': (dict(in_channels=8, state_size=7), 'hidden_dims',
                            '512'),
    'AdaFocusV2TSM': (dict(global_backbone={}, local_backbone={}, policy={},
                           num_classes=5), 'focus_segments', '12'),
}
#: Components whose arguments are all configs of other components.
CONFIG_ONLY = {'KDDistiller'}


def test_every_component_is_covered():
    mmext_types = {
        name
        for name, cls in MODELS.module_dict.items()
        if cls.__module__.startswith('mmext.')
    }
    missing = mmext_types - set(CASES) - CONFIG_ONLY
    assert not missing, (
        f'no wrong-argument case for {sorted(missing)}: validate their '
        'arguments with mmext.utils.check_arg and add them to CASES')
    assert set(CASES) | CONFIG_ONLY <= mmext_types


@pytest.mark.parametrize('type_name', sorted(CASES))
def test_wrong_typed_argument(type_name):
    kwargs, arg, value = CASES[type_name]
    cfg = dict(type=type_name, **kwargs, **{arg: value})
    with pytest.raises(ValueError) as excinfo:
        MODELS.build(cfg)
    assert f'{type_name}: {arg}={value!r} ({type(value).__name__}) is ' \
        'invalid; expected ' in str(excinfo.value)
