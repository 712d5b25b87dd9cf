"""Convert the GCP authors' released MobileNetV2 / ShuffleNetV2 checkpoints
to mmext.

ZhangLi-CS/GCP_Optimization releases ``MobileNetV2_GCP_{LRnorm,LRfast,
LRadju}``, ``MobileNetV2_GCP_{LRnorm,LRadju}_128`` and
``ShuffleNetV2_GCP_{LRnorm,LRfast,LRadju}``: ``{'state_dict': ...}`` files
(also ``epoch``, ``arch``, ``best_acc1``, ``optimizer`` when saved by their
``main.py``) with DataParallel's ``module.`` prefix; bare state dicts and
keys without the prefix are accepted too. Their models
(``src/models/MobileNetV2_MPNCOV{,_128}.py``, ``ShuffleNetV2_MPNCOV.py``)
are torchvision's ``mobilenet_v2`` / ``shufflenet_v2_x*`` networks with
``dimension_reduction`` (1x1 conv + BN + ReLU6, to 256 or 128 channels),
iSQRT-COV (5 iterations, row-major upper triangle) and ``classifier.1`` /
``fc``. The result loads into an mmpretrain ``ImageClassifier`` with
mmpretrain's ``MobileNetV2`` / ``ShuffleNetV2``, mmext's ``ISQRTCOVNeck``
(ReLU6) and a ``LinearClsHead``, as built from ``configs/gcp/``; the
checkpoint's meta names the config, the head width (256-d or 128-d) and the
ShuffleNetV2 width read from the keys. The authors' ResNet GCP models have
iSQRT-COV's layout: convert them with ``isqrt_cov2mmext.py``.

Usage::

    python tools/model_converters/gcp2mmext.py SRC DST
"""
import os.path as osp
import re
import sys
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.registry import DefaultScope
from mmengine.runner import save_checkpoint
from mmpretrain.registry import MODELS

from mmext.models.backbones.eca_mobilenet_v2 import \
    map_torchvision_key as map_torchvision_mobilenet_v2_key
from mmext.utils.converter import (check_converted, load_state_dict, run_cli,
                                   src_dst_parser, strip_prefix)

_BN = r'(?:weight|bias|running_mean|running_var|num_batches_tracked)'
# torchvision's Sequential index inside a ShuffleNetV2 branch -> mmpretrain's
# ConvModule ('<index>.conv' / '<index>.bn'); branch2.2 is the ReLU.
_SHUFFLENET_BRANCH = {
    'branch1': {0: '0.conv', 1: '0.bn', 2: '1.conv', 3: '1.bn'},
    'branch2': {
        0: '0.conv',
        1: '0.bn',
        3: '1.conv',
        4: '1.bn',
        5: '2.conv',
        6: '2.bn'
    },
}
# Channels of stage2 -> mmpretrain's ShuffleNetV2 widen_factor.
_SHUFFLENET_WIDTHS = {48: 0.5, 116: 1.0, 176: 1.5, 244: 2.0}
# (backbone type, widen factor, reduced channels) -> mmext config.
CONFIGS = {
    ('MobileNetV2', 1.0, 256):
    'configs/gcp/gcp_mobilenet-v2_4xb24_lrnorm_in1k.py',
    ('MobileNetV2', 1.0, 128):
    'configs/gcp/gcp-128d_mobilenet-v2_4xb24_lrnorm_in1k.py',
    ('ShuffleNetV2', 1.0, 256):
    'configs/gcp/gcp_shufflenet-v2-1x_16xb64_lrnorm_in1k.py',
}


def _map_sequential(key: str, prefix: str, new_prefix: str) -> Optional[str]:
    """``{prefix}.0.weight`` / ``{prefix}.1.<BN>`` (torchvision's conv + BN
    Sequential) -> ``{new_prefix}.conv.weight`` / ``{new_prefix}.bn.<BN>``."""
    m = re.match(rf'^{re.escape(prefix)}\.(?:0\.(weight)|1\.({_BN}))$', key)
    if m is None:
        return None
    return (f'{new_prefix}.conv.{m.group(1)}'
            if m.group(1) else f'{new_prefix}.bn.{m.group(2)}')


def map_gcp_mobilenet_v2_key(key: str) -> str:
    """Map one ``MobileNetV2_MPNCOV(_128)`` key (no ``module.`` prefix)::

        features.*                   -> backbone.* (torchvision's MobileNetV2
                                        -> mmpretrain's, as for ECA-Net)
        dimension_reduction.{0,1}.*  -> neck.reduce.{conv,bn}.*
        classifier.1.{weight,bias}   -> head.fc.{weight,bias}

    Raises:
        KeyError: ``key`` belongs to no part of the model.
    """
    new = _map_sequential(key, 'dimension_reduction', 'neck.reduce')
    if new is not None:
        return new
    try:
        new = map_torchvision_mobilenet_v2_key(key)
    except KeyError:
        new = None
    # The shared mapping also knows ECA-MobileNetV2's ECA layers.
    if new is None or '.eca.' in new:
        raise KeyError(f'unexpected key {key!r} in a GCP MobileNetV2 '
                       'checkpoint')
    return new


def map_gcp_shufflenet_v2_key(key: str) -> str:
    """Map one ``ShuffleNetV2_MPNCOV`` key (no ``module.`` prefix)::

        conv1.{0,1}.*                -> backbone.conv1.{conv,bn}.*
        stage{2,3,4}.i.branch1.{0,1,2,3}.*
                                     -> backbone.layers.{0,1,2}.i.branch1.
                                        {0.conv,0.bn,1.conv,1.bn}.*
        stage{2,3,4}.i.branch2.{0,1,3,4,5,6}.*
                                     -> backbone.layers.{0,1,2}.i.branch2.
                                        {0.conv,0.bn,1.conv,1.bn,2.conv,2.bn}.*
        conv5.{0,1}.*                -> backbone.layers.3.{conv,bn}.*
        dimension_reduction.{0,1}.*  -> neck.reduce.{conv,bn}.*
        fc.{weight,bias}             -> head.fc.{weight,bias}

    Raises:
        KeyError: ``key`` belongs to no part of the model.
    """
    for prefix, new_prefix in (('conv1', 'backbone.conv1'),
                               ('conv5', 'backbone.layers.3'),
                               ('dimension_reduction', 'neck.reduce')):
        new = _map_sequential(key, prefix, new_prefix)
        if new is not None:
            return new
    m = re.match(r'^stage([234])\.(\d+)\.(branch[12])\.(\d+)\.(\w+)$', key)
    if m is not None:
        stage, block, branch, idx, param = m.groups()
        layer = _SHUFFLENET_BRANCH[branch].get(int(idx))
        if layer is not None and re.fullmatch(
                'weight' if layer.endswith('conv') else _BN, param):
            return (f'backbone.layers.{int(stage) - 2}.{block}.{branch}.'
                    f'{layer}.{param}')
    m = re.match(r'^fc\.(weight|bias)$', key)
    if m is not None:
        return f'head.fc.{m.group(1)}'
    raise KeyError(f'unexpected key {key!r} in a GCP ShuffleNetV2 checkpoint')


def _require(sd: Mapping[str, torch.Tensor], key: str, what: str,
             ndim: int) -> torch.Tensor:
    if key not in sd:
        raise KeyError(f'no {key!r}; not a complete {what} checkpoint')
    if sd[key].dim() != ndim:
        raise ValueError(f'{key!r} has shape {tuple(sd[key].shape)}, '
                         f'expected {ndim} dimensions')
    return sd[key]


def infer_model(sd: Mapping[str, torch.Tensor]
                ) -> Tuple[str, dict, dict, int]:
    """The model a GCP checkpoint (``module.`` stripped) belongs to.

    Returns:
        tuple: ``(family, backbone cfg, neck cfg, num_classes)``; family is
        ``'MobileNetV2'`` or ``'ShuffleNetV2'``.

    Raises:
        ValueError: the keys are of no GCP MobileNetV2 / ShuffleNetV2 model,
            or of a ShuffleNetV2 width mmpretrain lacks.
        KeyError: a key the model needs is missing (e.g. a GAP model's
            checkpoint, without ``dimension_reduction``).
    """
    if any(k.startswith('features.') for k in sd):
        family, fc = 'MobileNetV2', 'classifier.1.weight'
        backbone = dict(type='MobileNetV2', widen_factor=1.0)
    elif any(k.startswith('stage2.') for k in sd):
        family, fc = 'ShuffleNetV2', 'fc.weight'
        stage2 = int(
            _require(sd, 'stage2.0.branch1.2.weight', 'ShuffleNetV2',
                     4).shape[0]) * 2
        if stage2 not in _SHUFFLENET_WIDTHS:
            raise ValueError(
                f'stage2 has {stage2} channels; mmpretrain\'s ShuffleNetV2 '
                f'has {sorted(_SHUFFLENET_WIDTHS)} (widen_factor '
                f'{sorted(_SHUFFLENET_WIDTHS.values())})')
        backbone = dict(
            type='ShuffleNetV2', widen_factor=_SHUFFLENET_WIDTHS[stage2])
    elif any(k.startswith('layer1.') for k in sd):
        raise ValueError('a ResNet checkpoint (layer1.*): the GCP ResNets '
                         'have iSQRT-COV\'s layout, convert them with '
                         'tools/model_converters/isqrt_cov2mmext.py')
    else:
        raise ValueError('keys look neither like the GCP MobileNetV2 '
                         '(features.*) nor the GCP ShuffleNetV2 (stage2.*) '
                         f'of ZhangLi-CS/GCP_Optimization (first key '
                         f'{next(iter(sd))!r})')
    reduce = _require(sd, 'dimension_reduction.0.weight',
                      f'GCP {family} (a GAP model has no GCP head)', 4)
    neck = dict(
        type='ISQRTCOVNeck',
        in_channels=int(reduce.shape[1]),
        reduced_channels=int(reduce.shape[0]),
        num_iter=5,
        act_cfg=dict(type='ReLU6'))
    num_classes = int(_require(sd, fc, f'GCP {family}', 2).shape[0])
    return family, backbone, neck, num_classes


def convert_gcp(state_dict: Mapping[str, torch.Tensor]
                ) -> Tuple[Dict[str, torch.Tensor], dict]:
    """Map a GCP MobileNetV2 / ShuffleNetV2 ``state_dict`` to mmext's keys.

    The result is checked against the keys and shapes of the model built
    from the inferred configuration, so a foreign, incomplete or mis-shaped
    checkpoint fails here, naming the key.

    Returns:
        tuple: the mapped ``state_dict`` and ``dict(backbone=..., neck=...,
        num_classes=...)``, the configuration it fits.

    Raises:
        KeyError: a key belongs to no part of the model, or one is missing.
        ValueError: see :func:`infer_model`; a tensor has the wrong shape.
    """
    sd = strip_prefix(state_dict)
    family, backbone_cfg, neck_cfg, num_classes = infer_model(sd)
    map_key = (
        map_gcp_mobilenet_v2_key
        if family == 'MobileNetV2' else map_gcp_shufflenet_v2_key)
    out = {map_key(k): v for k, v in sd.items()}

    with DefaultScope.overwrite_default_scope('mmpretrain'):
        backbone = MODELS.build(backbone_cfg)
        neck = MODELS.build(neck_cfg)
    expected = {f'backbone.{k}': v.shape
                for k, v in backbone.state_dict().items()}
    expected.update(
        {f'neck.{k}': v.shape for k, v in neck.state_dict().items()})
    expected['head.fc.weight'] = torch.Size((num_classes, neck.out_channels))
    expected['head.fc.bias'] = torch.Size((num_classes, ))
    check_converted(out, expected, f'GCP {family}')
    return out, dict(
        backbone=backbone_cfg, neck=neck_cfg, num_classes=num_classes)


def convert(src: str, dst: str) -> dict:
    """Convert ``src`` to ``{'state_dict', 'meta'}`` at ``dst``; returns meta.

    ``meta`` holds ``backbone``, ``neck`` and ``num_classes`` (the model the
    weights fit) and ``config``, the mmext config of that model (``None``
    for a ShuffleNetV2 width or head without one).

    Raises:
        FileNotFoundError: ``src`` is missing.
        ValueError: ``src`` is not a GCP MobileNetV2 / ShuffleNetV2
            checkpoint, or a tensor has the wrong shape.
        KeyError: ``src`` has a key the model lacks, or lacks one it needs.
    """
    state_dict, extra = load_state_dict(
        src, extra_keys=('arch', 'epoch', 'best_acc1'))
    try:
        new_state_dict, model = convert_gcp(state_dict)
    except KeyError as e:
        raise KeyError(f'{src}: {e.args[0]}') from e
    except ValueError as e:
        raise ValueError(f'{src}: {e}') from e
    backbone, neck = model['backbone'], model['neck']
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/gcp2mmext.py',
        config=CONFIGS.get((backbone['type'], backbone['widen_factor'],
                            neck['reduced_channels'])),
        **model,
        **{f'source_{k}': v
           for k, v in extra.items()})
    save_checkpoint({'state_dict': new_state_dict, 'meta': meta}, dst)
    return meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        'Convert a GCP MobileNetV2 / ShuffleNetV2 checkpoint '
        '(ZhangLi-CS/GCP_Optimization) to an mmpretrain ImageClassifier '
        'checkpoint for mmext.', "the authors' checkpoint (.pth.tar)")

    def run(args) -> str:
        meta = convert(args.src, args.dst)
        return (f'saved GCP {meta["backbone"]} with a '
                f'{meta["neck"]["reduced_channels"]}-d head '
                f'({meta["num_classes"]} classes) to {args.dst}\n'
                f'config: {meta["config"]}')

    return run_cli(parser, run, argv)


if __name__ == '__main__':
    sys.exit(main())
