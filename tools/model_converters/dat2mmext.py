"""Convert the DAT authors' released ImageNet checkpoints to mmext.

The checkpoints of LeapLabTHU/DAT at commit 566a593 (``dat_{tiny,small,
base}_in1k_224.pth``, ``dat_base_in1k_384.pth``) come from Swin's training
code: ``{'model': state_dict, 'optimizer': ..., 'lr_scheduler': ...,
'max_accuracy': ..., 'epoch': ..., 'config': ...}`` (a bare state dict is
accepted too); ``config`` is their yacs ``CfgNode``, read as plain dicts
without yacs (see ``--help``). The result loads into an mmpretrain ``ImageClassifier`` with a
``DAT`` backbone, a ``GlobalAveragePooling`` neck and a ``LinearClsHead``;
the key mapping itself is ``checkpoint_filter_fn`` in
``mmext/models/backbones/dat.py``. The window attention's
``relative_position_index`` and ``attn_mask`` buffers are dropped (mmext
recomputes them).

Usage::

    python tools/model_converters/dat2mmext.py SRC DST
"""
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.runner import save_checkpoint

from mmext.models.backbones import dat
from mmext.utils.converter import load_state_dict, run_cli, src_dst_parser


def convert(src: str, dst: str) -> dict:
    """Convert ``src`` to an mmext checkpoint at ``dst``; returns its meta.

    ``meta['backbone']`` is the backbone config the weights fit, e.g.
    ``dict(type='DAT', arch='tiny', img_size=224, window_size=7)``.

    Raises:
        FileNotFoundError: ``src`` is missing.
        ValueError: ``src`` is not a checkpoint.
        KeyError: ``src`` has a key DAT lacks, or lacks one it needs.
    """
    state_dict, extra = load_state_dict(
        src, container_keys=('model', 'state_dict'),
        extra_keys=('epoch', 'max_accuracy'))
    try:
        info = dat.infer_arch(state_dict)
        new_state_dict = dat.checkpoint_filter_fn(state_dict)
    except KeyError as e:
        raise KeyError(f'{src}: {e.args[0]}') from e
    backbone = dict(
        type='DAT',
        arch=info['arch'],
        img_size=info['img_size'],
        window_size=info['window_size'])
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/dat2mmext.py',
        backbone=backbone,
        num_classes=info['num_classes'],
        **{f'source_{k}': v
           for k, v in extra.items()})
    save_checkpoint({'state_dict': new_state_dict, 'meta': meta}, dst)
    return meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        'Convert a DAT (LeapLabTHU/DAT, CVPR 2022) checkpoint to an '
        'mmpretrain ImageClassifier checkpoint for mmext.',
        "the authors' checkpoint (.pth)")

    def run(args) -> str:
        meta = convert(args.src, args.dst)
        return (f'saved DAT ({meta["num_classes"]} classes) to {args.dst}\n'
                f'backbone config: {meta["backbone"]}')

    return run_cli(parser, run, argv)


if __name__ == '__main__':
    sys.exit(main())
