"""Convert the DeepBDC authors' checkpoints (Fei-Long121/DeepBDC) to mmext.

The authors save ``{'epoch': int, 'state': model.state_dict()}``
(``best_model.tar`` / ``last_model.tar`` / ``<epoch>.tar``) for the
pretraining model (``feature`` + ``dcov`` + ``classifier``), the Meta DeepBDC
model and the STL models (``feature`` + ``dcov``). The key mapping is
``checkpoint_filter_fn`` in ``mmext/models/necks/deepbdc.py``; this script
reads the file, infers the architecture and writes an mmengine checkpoint:

- with ``classifier.*``: an mmpretrain ``ImageClassifier`` (``DeepBDCResNet12``
  or ``DeepBDCResNet18`` backbone, ``BDCPooling`` neck, ``LinearClsHead``),
  e.g. for ``load_from`` of the Meta configs or the STL meta-test configs;
- without: an ``EpisodicClassifier`` (prototype head, no weights).

Usage::

    python tools/model_converters/deepbdc2mmext.py SRC DST
"""
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.runner import save_checkpoint

from mmext.models.necks.deepbdc import checkpoint_filter_fn
from mmext.utils.converter import load_state_dict, run_cli, src_dst_parser


def infer_model(state_dict: dict) -> dict:
    """The mmext model config the converted weights fit."""
    keys = list(state_dict)
    if any(k.startswith('backbone.layer1.0.conv3.') for k in keys):
        backbone = dict(type='DeepBDCResNet12')
        in_channels = state_dict['backbone.layer4.0.conv1.weight'].shape[0]
    elif any(k.startswith('backbone.conv1.') for k in keys):
        backbone = dict(type='DeepBDCResNet18')
        in_channels = state_dict['backbone.layer4.1.conv2.weight'].shape[0]
    else:
        raise ValueError('neither the DeepBDC ResNet-12 nor the ResNet-18')
    if 'neck.temperature' not in state_dict:
        raise KeyError('dcov.temperature is missing: not a DeepBDC model')
    reduce = state_dict.get('neck.reduce.conv.weight')
    dim = in_channels if reduce is None else reduce.shape[0]
    neck = dict(
        type='BDCPooling', in_channels=in_channels, reduced_channels=dim)
    if 'head.fc.weight' in state_dict:
        num_classes, feat = state_dict['head.fc.weight'].shape
        return dict(
            type='ImageClassifier',
            backbone=backbone,
            neck=neck,
            head=dict(
                type='LinearClsHead',
                num_classes=int(num_classes),
                in_channels=int(feat)))
    return dict(
        type='EpisodicClassifier',
        backbone=backbone,
        neck=neck,
        head=dict(type='PrototypeHead'))


def convert(src: str, dst: str) -> dict:
    """Convert ``src`` to an mmext checkpoint at ``dst``; returns its meta
    (``meta['model']`` is the model config the weights fit).

    Raises:
        FileNotFoundError: ``src`` is missing.
        ValueError: ``src`` is not a DeepBDC checkpoint.
        KeyError: a key belongs to no part of the model.
    """
    state_dict, extra = load_state_dict(
        src, container_keys=('state', 'state_dict'), extra_keys=('epoch', ))
    try:
        new_state_dict = checkpoint_filter_fn(state_dict)
        model = infer_model(new_state_dict)
    except KeyError as e:
        raise KeyError(f'{src}: {e.args[0]}') from e
    except ValueError as e:
        raise ValueError(f'{src}: {e}') from e
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/deepbdc2mmext.py',
        model=model,
        **{f'source_{k}': v
           for k, v in extra.items()})
    save_checkpoint({'state_dict': new_state_dict, 'meta': meta}, dst)
    return meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        'Convert a DeepBDC (Fei-Long121/DeepBDC) checkpoint to an mmext '
        'ImageClassifier / EpisodicClassifier checkpoint.',
        "the authors' checkpoint (best_model.tar, last_model.tar, ...)")

    def run(args) -> str:
        meta = convert(args.src, args.dst)
        return f'saved to {args.dst}\nmodel config: {meta["model"]}'

    return run_cli(parser, run, argv)


if __name__ == '__main__':
    sys.exit(main())
