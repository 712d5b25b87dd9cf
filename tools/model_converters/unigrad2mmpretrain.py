"""Convert a UniGrad checkpoint into an mmpretrain ResNet-50 backbone.

The authors' pretraining (fundamentalvision/UniGrad, ``project/model.py``)
saves ``{'model': ..., 'optimizer': ..., 'scaler': ..., 'step': ...,
'epoch': ..., 'F': ...}`` with DDP's ``module.`` prefix; the encoder is a
torchvision ResNet-50 without fc as ``nn.Sequential`` children
(``encoder.0`` conv1, ``encoder.1`` bn1, ``encoder.4``-``7`` layer1-4), next
to ``projector``, ``momentum_encoder`` and ``momentum_projector``. Their
released ``unigrad_pretrained.pth`` has this layout. The online encoder is
kept as ``backbone.*`` keys of an mmpretrain ``ResNet(depth=50)``, which
stock classification configs load with ``init_cfg=dict(type='Pretrained',
checkpoint=DST, prefix='backbone.')`` (as
``configs/unigrad/benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py``)
or ``load_from``; the projector, the momentum branch and ``F`` are dropped.

Usage::

    python tools/model_converters/unigrad2mmpretrain.py SRC DST
"""
import sys
from typing import Dict, Optional, Sequence

import torch
from mmengine.runner import save_checkpoint
from mmpretrain.models import ResNet

from mmext.utils.converter import (check_converted, load_state_dict,
                                   rename_by_rules, run_cli, src_dst_parser,
                                   strip_prefix)

#: torchvision's ResNet children in the authors' ``nn.Sequential`` encoder
_RULES = [
    (r'encoder\.0\.', 'backbone.conv1.'),
    (r'encoder\.1\.', 'backbone.bn1.'),
] + [(rf'encoder\.{i + 4}\.', f'backbone.layer{i + 1}.') for i in range(4)]
#: parts of the pretraining model that the classifier does not use
_DROPPED = ('projector.', 'momentum_encoder.', 'momentum_projector.')


def convert_state_dict(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Map the authors' keys to ``backbone.*`` of an mmpretrain ResNet-50.

    Raises:
        KeyError: A key that is neither the encoder nor a dropped part, or
            a missing / unexpected backbone key.
        ValueError: A tensor of the wrong shape.
    """
    out = {}
    for key, value in strip_prefix(state_dict).items():
        if key.startswith(_DROPPED):
            continue
        out[rename_by_rules(key, _RULES, 'expected a UniGrad checkpoint')] = \
            value
    expected = {
        f'backbone.{k}': v.shape
        for k, v in ResNet(depth=50).state_dict().items()
    }
    check_converted(out, expected, 'ResNet-50')
    return out


def convert(src: str, dst: str) -> str:
    state_dict, extra = load_state_dict(
        src, container_keys=('model', 'state_dict'), extra_keys=('epoch', ))
    out = convert_state_dict(state_dict)
    save_checkpoint(
        dict(state_dict=out, meta=dict(source=src, **extra)), dst)
    return f'saved {len(out)} ResNet-50 backbone tensors to {dst}'


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        'Convert a UniGrad checkpoint (the authors\' pretraining layout) '
        'into an mmpretrain ResNet-50 backbone.',
        'the authors\' checkpoint (e.g. unigrad_pretrained.pth)')
    return run_cli(parser, lambda args: convert(args.src, args.dst), argv)


if __name__ == '__main__':
    sys.exit(main())
