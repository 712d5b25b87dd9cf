"""Convert the ECA-Net authors' released ImageNet checkpoints to mmext.

The checkpoints of BangguWu/ECANet (``eca_resnet{18,34,50,101,152}_k*.pth.tar``
and ``eca_mobilenetv2_k13.pth.tar``) hold ``{'state_dict': ..., 'arch': ...,
'epoch': ..., 'optimizer': ...}`` with DataParallel's ``module.`` prefix.
The result loads into an mmpretrain ``ImageClassifier`` with an
``ECAResNet`` / ``ECAMobileNetV2`` backbone and a ``LinearClsHead``; the key
mapping itself is ``checkpoint_filter_fn`` in
``mmext/models/backbones/eca_resnet.py`` and ``eca_mobilenet_v2.py``.

Usage::

    python tools/model_converters/eca2mmext.py SRC DST [--arch eca_resnet50]
"""
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.runner import save_checkpoint

from mmext.models.backbones import eca_mobilenet_v2, eca_resnet
from mmext.utils.converter import load_state_dict, run_cli, src_dst_parser

ARCHS = ('eca_resnet18', 'eca_resnet34', 'eca_resnet50', 'eca_resnet101',
         'eca_resnet152', 'eca_mobilenet_v2')


def convert(src: str, dst: str, arch: Optional[str] = None) -> dict:
    """Convert ``src`` to an mmext checkpoint at ``dst``; returns its meta.

    ``dst`` (``{'state_dict': ..., 'meta': ...}``) is written with mmengine's
    ``save_checkpoint``, creating missing directories. ``meta['backbone']``
    is the backbone config the weights fit, e.g. ``dict(type='ECAResNet',
    depth=50, eca_kernel_sizes=(3, 5, 5, 7))``.

    Raises:
        FileNotFoundError: ``src`` is missing.
        ValueError: ``src`` is not a checkpoint, or not of ``arch``.
        KeyError: ``src`` has a key the model lacks, or lacks one it needs.
    """
    state_dict, extra = load_state_dict(
        src, extra_keys=('arch', 'epoch', 'best_prec1'))
    if arch is not None and arch not in ARCHS:
        raise ValueError(f'unknown arch {arch!r}, expected one of {ARCHS}')
    keys = [
        k[len('module.'):] if k.startswith('module.') else k
        for k in state_dict
    ]
    if any(k.startswith('features.') for k in keys):
        family, module, cfg_type = 'mobilenet_v2', eca_mobilenet_v2, \
            'ECAMobileNetV2'
    elif any(k.startswith('layer1.') for k in keys):
        family, module, cfg_type = 'resnet', eca_resnet, 'ECAResNet'
    else:
        raise ValueError(f'{src}: keys look neither like ECA-ResNet nor '
                         f'ECA-MobileNetV2 (first key {keys[0]!r})')
    if arch is not None and (arch
                             == 'eca_mobilenet_v2') != (family
                                                        == 'mobilenet_v2'):
        raise ValueError(f'{src} is not an {arch} checkpoint')

    try:
        if family == 'resnet':
            depth = int(arch[len('eca_resnet'):]) if arch else None
            new_state_dict = module.checkpoint_filter_fn(state_dict, depth)
        else:
            new_state_dict = module.checkpoint_filter_fn(state_dict)
    except KeyError as e:
        raise KeyError(f'{src}: {e.args[0]}') from e
    except ValueError as e:
        raise ValueError(f'{src}: {e}') from e
    info = module.infer_arch(state_dict)

    backbone = dict(type=cfg_type)
    if family == 'resnet':
        backbone['depth'] = info['depth']
        name = f'eca_resnet{info["depth"]}'
    else:
        name = 'eca_mobilenet_v2'
    backbone['eca_kernel_sizes'] = tuple(info['eca_kernel_sizes'])
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/eca2mmext.py',
        arch=name,
        backbone=backbone,
        num_classes=info['num_classes'],
        **{
            f'source_{k}': v
            for k, v in extra.items()
        })
    save_checkpoint({'state_dict': new_state_dict, 'meta': meta}, dst)
    return meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        'Convert an ECA-Net (BangguWu/ECANet) checkpoint to an mmpretrain '
        'ImageClassifier checkpoint for mmext.',
        "the authors' checkpoint (.pth.tar)")
    parser.add_argument(
        '--arch',
        choices=ARCHS,
        help='expected architecture; inferred from the keys when omitted')

    def run(args) -> str:
        meta = convert(args.src, args.dst, arch=args.arch)
        return (f'saved {meta["arch"]} ({meta["num_classes"]} classes) to '
                f'{args.dst}\nbackbone config: {meta["backbone"]}')

    return run_cli(parser, run, argv)


if __name__ == '__main__':
    sys.exit(main())
