"""Convert the iSQRT-COV authors' released checkpoints to mmext.

jiangtaoxie/fast-MPN-COV releases ``mpncovresnet50-15991845.pth`` and
``mpncovresnet101-ade9737a.pth`` (plain state dicts of ``MPNCOVResNet``);
checkpoints saved by its ``main.py`` hold ``{'state_dict': ...}`` with
DataParallel's ``module.`` prefix. Both are accepted. The result loads into
the ``ImageClassifier`` of ``configs/isqrt_cov/`` (ResNet with
``strides=(1, 2, 2, 1)``, ``ISQRTCOVNeck``, ``LinearClsHead``); the key
mapping is ``convert_mpncov_resnet`` in ``mmext/models/necks/isqrt_cov.py``.

Usage::

    python tools/model_converters/isqrt_cov2mmext.py SRC DST
"""
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.runner import save_checkpoint

from mmext.models.necks.isqrt_cov import convert_mpncov_resnet
from mmext.utils.converter import load_state_dict, run_cli, src_dst_parser


def convert(src: str, dst: str) -> dict:
    """Convert ``src`` to ``{'state_dict', 'meta'}`` at ``dst``; returns meta.

    Raises:
        FileNotFoundError: ``src`` is missing.
        ValueError: ``src`` is not a model checkpoint.
        KeyError: ``src`` has a key the model lacks.
    """
    state_dict, _ = load_state_dict(src)
    try:
        new_state_dict = convert_mpncov_resnet(state_dict)
    except KeyError as e:
        raise KeyError(f'{src}: {e.args[0]}') from e
    # Bottleneck ResNets: count the blocks of stage 3 (6 -> R50, 23 -> R101).
    blocks = {k.split('.')[2] for k in new_state_dict
              if k.startswith('backbone.layer3.')}
    depth = {6: 50, 23: 101, 36: 152}.get(len(blocks))
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/isqrt_cov2mmext.py',
        backbone=dict(type='ResNet', depth=depth, strides=(1, 2, 2, 1)),
        num_classes=int(new_state_dict['head.fc.weight'].shape[0]))
    save_checkpoint({'state_dict': new_state_dict, 'meta': meta}, dst)
    return meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        'Convert an iSQRT-COV (jiangtaoxie/fast-MPN-COV) MPNCOVResNet '
        'checkpoint to an mmpretrain ImageClassifier checkpoint for mmext.',
        "the authors' checkpoint (.pth)")

    def run(args) -> str:
        meta = convert(args.src, args.dst)
        return (f'saved {meta["backbone"]} ({meta["num_classes"]} classes) '
                f'to {args.dst}')

    return run_cli(parser, run, argv)


if __name__ == '__main__':
    sys.exit(main())
