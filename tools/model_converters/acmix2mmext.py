"""Convert the ACmix authors' released ACmix-Swin checkpoints to mmext.

The ImageNet checkpoints of LeapLabTHU/ACmix (Swin-T and Swin-S, linked from
the authors' README; the ResNet, SAN and PVT models are listed there as "In
process", never released) come from Swin's training code
(``Swin-Transformer/models/swin_transformer_acmix.py``): ``{'model':
state_dict, ...}`` with the Microsoft Swin key layout (a bare state dict, or
one with DataParallel's ``module.`` prefix, is accepted too); training
checkpoints also hold ``'config'``, their yacs ``CfgNode``, read as plain
dicts without yacs (see ``--help``). The result
loads into an mmpretrain ``ImageClassifier`` with an
``ACmixSwinTransformer`` backbone, a ``GlobalAveragePooling`` neck and a
``LinearClsHead``, and into detectors as a backbone checkpoint
(``init_cfg=dict(type='Pretrained', prefix='backbone.', ...)``). The key
mapping itself is ``checkpoint_filter_fn`` in
``mmext/models/backbones/acmix_swin.py``; the shifted blocks' ``attn_mask``
buffers are dropped (mmext recomputes them).

Usage::

    python tools/model_converters/acmix2mmext.py SRC DST
"""
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.runner import save_checkpoint

from mmext.models.backbones import acmix_swin
from mmext.utils.converter import load_state_dict, run_cli, src_dst_parser


def convert(src: str, dst: str) -> dict:
    """Convert ``src`` to an mmext checkpoint at ``dst``; returns its meta.

    ``meta['backbone']`` is the backbone config the weights fit, e.g.
    ``dict(type='ACmixSwinTransformer', arch='tiny', img_size=224,
    patch_size=4, window_size=7)``.

    Raises:
        FileNotFoundError: ``src`` is missing.
        ValueError: ``src`` is not a checkpoint.
        KeyError: ``src`` has a key ACmix-Swin lacks, or lacks one it needs.
    """
    state_dict, extra = load_state_dict(
        src, container_keys=('model', 'state_dict'),
        extra_keys=('epoch', 'max_accuracy'))
    try:
        info = acmix_swin.infer_arch(state_dict)
        new_state_dict = acmix_swin.checkpoint_filter_fn(state_dict)
    except KeyError as e:
        raise KeyError(f'{src}: {e.args[0]}') from e
    num_classes = info.pop('num_classes')
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/acmix2mmext.py',
        backbone=dict(type='ACmixSwinTransformer', **info),
        num_classes=num_classes,
        **{f'source_{k}': v
           for k, v in extra.items()})
    save_checkpoint({'state_dict': new_state_dict, 'meta': meta}, dst)
    return meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        'Convert an ACmix-Swin checkpoint (LeapLabTHU/ACmix, CVPR 2022) to '
        'an mmpretrain ImageClassifier checkpoint for mmext.',
        "the authors' checkpoint (.pth)")

    def run(args) -> str:
        meta = convert(args.src, args.dst)
        return (f'saved ACmix-Swin ({meta["num_classes"]} classes) to '
                f'{args.dst}\nbackbone config: {meta["backbone"]}')

    return run_cli(parser, run, argv)


if __name__ == '__main__':
    sys.exit(main())
