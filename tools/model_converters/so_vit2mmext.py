"""Convert the So-ViT authors' released checkpoints to mmext.

jiangtaoxie/So-ViT (commit c2d076e) releases ``So-ViT-{7,10,14,19}.pth.tar``:
timm training checkpoints holding ``state_dict`` and, as their ``main.py``
trains with ``--model-ema`` on by default, ``state_dict_ema``. The authors'
evaluation (``main.py --eval_checkpoint``) loads the EMA weights when present,
so this converter does too (``--no-ema`` takes ``state_dict``). The files also
pickle timm's ``args`` namespace: load them with
``MMEXT_TRUST_CHECKPOINTS=1`` if you trust their source.

The result loads into the ``ImageClassifier`` of ``configs/so_vit/``
(``SoViT`` backbone, ``SoViTHead``); the key mapping is ``convert_so_vit`` in
``mmext/models/backbones/so_vit.py``. The authors train and evaluate with the
attention scale ``head_dims ** -0.5``, mmext's default; see
``configs/so_vit/README.md`` for their ``pretrained=True`` factories'
``embed_dims ** -0.5`` and the backbone's ``qk_scale`` option.

Usage::

    MMEXT_TRUST_CHECKPOINTS=1 python tools/model_converters/so_vit2mmext.py \\
        So-ViT-14.pth.tar so_vit_14_in1k.pth
"""
import math
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.runner import save_checkpoint

from mmext.models.backbones.so_vit import SoViT, convert_so_vit
from mmext.utils.converter import load_state_dict, run_cli, src_dst_parser


def convert(src: str, dst: str, ema: bool = True) -> dict:
    """Convert ``src`` to ``{'state_dict', 'meta'}`` at ``dst``; returns meta.

    Args:
        src: The authors' checkpoint.
        dst: Where to write the converted checkpoint.
        ema: Take ``state_dict_ema`` when the file has it (as the authors'
            evaluation does); otherwise ``state_dict``.

    Raises:
        FileNotFoundError: ``src`` is missing.
        ValueError: ``src`` is not a model checkpoint.
        KeyError: ``src`` has a key the model lacks, or lacks one it needs.
    """
    containers = ('state_dict_ema', 'state_dict') if ema else ('state_dict', )
    state_dict, extra = load_state_dict(
        src, container_keys=containers, extra_keys=('epoch', 'arch'))
    try:
        new_state_dict = convert_so_vit(state_dict)
    except KeyError as e:
        raise KeyError(f'{src}: {e.args[0]}') from e
    for key in ('backbone.cls_token', 'backbone.pos_embed',
                'head.branch1.conv.weight', 'head.branch2.conv.weight',
                'head.fc_cls.weight'):
        if key not in new_state_dict:
            raise KeyError(f'{src}: no {key!r} after conversion; not a '
                           'complete So_ViT checkpoint')
    embed_dims = int(new_state_dict['backbone.cls_token'].shape[-1])
    num_layers = len({k.split('.')[2] for k in new_state_dict
                      if k.startswith('backbone.layers.')})
    arch = next((name for name, setting in SoViT.arch_zoo.items()
                 if setting['embed_dims'] == embed_dims
                 and setting['num_layers'] == num_layers), None)
    num_tokens = new_state_dict['backbone.pos_embed'].shape[1] - 1
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/so_vit2mmext.py',
        containers=list(containers),
        backbone=dict(
            type='SoViT',
            arch=arch if arch is not None else dict(
                embed_dims=embed_dims, num_layers=num_layers),
            img_size=int(math.isqrt(num_tokens)) * 16),
        head=dict(
            type='SoViTHead',
            in_channels=embed_dims,
            reduced_channels=(
                int(new_state_dict['head.branch1.conv.weight'].shape[0]),
                int(new_state_dict['head.branch2.conv.weight'].shape[0])),
            num_classes=int(new_state_dict['head.fc_cls.weight'].shape[0])))
    meta.update(extra)
    save_checkpoint({'state_dict': new_state_dict, 'meta': meta}, dst)
    return meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        'Convert a So-ViT (jiangtaoxie/So-ViT c2d076e) checkpoint to an '
        'mmpretrain ImageClassifier checkpoint for mmext.',
        "the authors' checkpoint (.pth.tar)")
    parser.add_argument(
        '--no-ema',
        action='store_true',
        help="convert 'state_dict' even when the file has 'state_dict_ema'")

    def run(args) -> str:
        meta = convert(args.src, args.dst, ema=not args.no_ema)
        return (f'saved {meta["backbone"]}, {meta["head"]} (first of '
                f'{meta["containers"]} in the file) to {args.dst}')

    return run_cli(parser, run, argv)


if __name__ == '__main__':
    sys.exit(main())
