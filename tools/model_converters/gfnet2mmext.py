"""Convert the GFNet authors' checkpoints (blackfeather-wang/GFNet-Pytorch)
to mmext.

A release (``*.pth.tar``) holds the global and local encoders
(``model_prime_state_dict``, ``model_state_dict``), the classifier (``fc``),
the policy (``policy``) and the calibration of its budgeted evaluation:
``dynamic_threshold`` (39 x T thresholds, one row per ``p = k / 20``) and
``flops`` (cumulative MACs per step). A checkpoint of their ``train.py``
holds the weights only. The mapping is ``checkpoint_filter_fn`` in
``mmext/models/classifiers/gfnet.py``; this script builds the model of
``--config``, maps and checks the weights, and writes an mmengine checkpoint
whose ``meta['gfnet']`` keeps the thresholds, step costs and anytime
accuracy (None when the source has none);
``tools/analysis_tools/adaptive_inference.py --calib stored`` evaluates with
those thresholds.

The encoders are mapped by name from each of the authors' layouts:
torchvision ResNet and DenseNet-121/169/201 (mmpretrain ``ResNet``,
``DenseNet``), pycls RegNetY-600MF/800MF/1.6GF (mmext ``RegNetY``),
gen-efficientnet MobileNetV3-Large and EfficientNet-B2/B3 (mmpretrain
``MobileNetV3`` or mmext ``GenMobileNetV3`` with a ``StackedLinearClsHead``,
mmpretrain ``EfficientNet``); a key without counterpart, a tensor of the
model left unfilled or a shape that differs stops with a message naming it.
The authors' encoders are PyTorch models: the config's MobileNetV3 needs
``backbone.norm_cfg=dict(type='BN', eps=1e-5)`` and its EfficientNet also
``backbone.conv_cfg=dict(type='Conv2d')`` (mmpretrain's defaults are eps
1e-3 and TF 'same' padding); the script stops otherwise.

``--encoder`` converts ImageNet weights of one encoder instead (a pycls
checkpoint, whose tensors are under ``model_state``, or a torchvision /
timm state dict) into an mmpretrain ``ImageClassifier`` checkpoint for the
encoders' ``init_cfg``: mmpretrain has no RegNetY weights, and the GFNet
RegNetY configs start from pycls' ImageNet models, as the authors.

Usage::

    python tools/model_converters/gfnet2mmext.py SRC DST --config CONFIG
    python tools/model_converters/gfnet2mmext.py RegNetY-600MF_dds_8gpu.pyth \
        checkpoints/regnety-600mf_pycls-in1k.pth --encoder --config \
        configs/gfnet/gfnet-stage1_regnety-600mf-p96_8xb32_60e_in1k.py
"""
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import save_checkpoint

import mmext  # noqa: F401
from mmext.models.classifiers.gfnet import (checkpoint_filter_fn,
                                            released_calibration,
                                            rename_encoder)
from mmext.utils.converter import (check_converted, load_checkpoint,
                                   run_cli, src_dst_parser, strip_prefix)


def build_model(config: str):
    """The GFNet of ``config`` (no pretrained weights are loaded)."""
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.model.to_dict()
    for part in ('global_encoder', 'local_encoder'):
        if isinstance(model_cfg.get(part), dict):
            model_cfg[part]['init_cfg'] = None
    return MODELS.build(model_cfg)


def convert(src: str, dst: str, config: str) -> dict:
    """Convert ``src`` for the model of ``config``; returns the meta.

    Raises:
        FileNotFoundError: ``src`` is missing.
        KeyError: a part of the release or a key is missing.
        ValueError: the weights do not fit the model of ``config``.
    """
    checkpoint = load_checkpoint(src)
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{src}: not a GFNet checkpoint')
    model = build_model(config)
    try:
        state_dict = checkpoint_filter_fn(checkpoint, model)
        check_converted(state_dict, {
            k: v.shape
            for k, v in model.state_dict().items()
        }, 'GFNet')
    except KeyError as e:
        raise KeyError(f'{src}: {e.args[0]}') from e
    except ValueError as e:
        raise ValueError(f'{src}: {e}') from e
    calibration = released_calibration(checkpoint)
    patch = calibration['patch_size']
    if patch is not None and int(patch) != model.patch_size:
        raise ValueError(f'{src} was trained with patch size {patch}; '
                         f'{config} sets model.patch_size={model.patch_size}')
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/gfnet2mmext.py',
        config=config,
        gfnet=calibration)
    save_checkpoint({'state_dict': state_dict, 'meta': meta}, dst)
    return meta


def convert_encoder(src: str, dst: str, config: str) -> None:
    """Convert ImageNet weights of the encoder architecture of ``config``
    (pycls: ``model_state``; torchvision / timm: the state dict itself)
    into a checkpoint of its mmpretrain ``ImageClassifier`` (``backbone.*``,
    ``head.*``), to load through the encoders' ``init_cfg``.

    Raises:
        FileNotFoundError: ``src`` is missing.
        KeyError: a key has no counterpart in the encoder (or the reverse).
        ValueError: ``src`` holds no state dict, or a tensor does not fit.
    """
    checkpoint = load_checkpoint(src)
    if isinstance(checkpoint, dict):
        checkpoint = checkpoint.get('model_state',
                                    checkpoint.get('state_dict', checkpoint))
    if not isinstance(checkpoint, dict) or not checkpoint:
        raise ValueError(f'{src}: no state dict (expected a pycls '
                         "checkpoint with 'model_state', or a state dict)")
    encoder = build_model(config).global_encoder
    state_dict = rename_encoder(strip_prefix(checkpoint), encoder, src)
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/gfnet2mmext.py --encoder',
        config=config)
    save_checkpoint({'state_dict': state_dict, 'meta': meta}, dst)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        'Convert a GFNet (blackfeather-wang/GFNet-Pytorch) checkpoint to an '
        'mmext GFNet checkpoint.',
        "the authors' release (*.pth.tar) or train.py checkpoint")
    parser.add_argument(
        '--config', required=True,
        help='the mmext GFNet config of the same backbone, patch size and '
        'number of steps; its encoders must use PyTorch\'s batch-norm eps '
        "and padding (MobileNetV3 / EfficientNet backbones: norm_cfg=dict("
        "type='BN', eps=1e-5); EfficientNet also conv_cfg=dict("
        "type='Conv2d'))")
    parser.add_argument(
        '--encoder', action='store_true',
        help="SRC is ImageNet weights of the config's encoder architecture "
        '(pycls, torchvision or timm), not a GFNet checkpoint: write an '
        "mmpretrain ImageClassifier checkpoint for the encoders' init_cfg")

    def run(args) -> str:
        if args.encoder:
            convert_encoder(args.src, args.dst, args.config)
            return f'saved to {args.dst}'
        meta = convert(args.src, args.dst, args.config)
        stored = meta['gfnet']['thresholds'] is not None
        return (f'saved to {args.dst}\ncalibrated thresholds: '
                f'{"kept" if stored else "none in the source"}')

    return run_cli(parser, run, argv)


if __name__ == '__main__':
    sys.exit(main())
