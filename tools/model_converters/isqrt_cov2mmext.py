"""Convert the iSQRT-COV and GCP authors' checkpoints to mmext.

jiangtaoxie/fast-MPN-COV releases ``mpncovresnet50-15991845.pth`` and
``mpncovresnet101-ade9737a.pth``: plain state dicts of ``MPNCOVResNet``
(``conv1``... ``layer4``, ``layer_reduce``, ``layer_reduce_bn``, ``fc``).
Checkpoints saved by its ``main.py`` (``checkpoint.pth.tar``,
``model_best.pth.tar``, ``net-epoch-N.pth.tar``) hold ``{'epoch', 'arch',
'state_dict', 'best_prec1', 'optimizer'}`` with the state dict of its
``Newmodel``: ``features.module.N`` (only ``features`` is wrapped in
DataParallel; ``module.features.N`` with ``--world-size > 1``,
``features.N`` with ``--gpu``), ``representation.conv_dr_block``
(training from scratch) or ``features.module.8``/``9`` (fine-tuning a
released model), and ``classifier``. Both layouts are accepted. A
``main.py`` checkpoint of ``--arch resnetXX`` (torchvision ResNet, layer4 at
stride 2, with the iSQRT-COV representation) has the same keys; its
``arch`` entry selects ``strides=(1, 2, 2, 2)`` in the printed config.
ZhangLi-CS/GCP_Optimization's ResNet GCP models (``ResNet_MPNCOV`` and
``ResNet_MPNCOV_128``, ResNet-18/34/50/101) use the ``MPNCOVResNet`` names
and convert the same way; their MobileNetV2/ShuffleNetV2 models have other
layouts and are converted by ``gcp2mmext.py``. The result loads into the
``ImageClassifier`` of ``configs/isqrt_cov/`` (ResNet with
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
    state_dict, extra = load_state_dict(src, extra_keys=('arch', ))
    try:
        new_state_dict = convert_mpncov_resnet(state_dict)
    except KeyError as e:
        raise KeyError(f'{src}: {e.args[0]}') from e
    for key, src_keys in (
        ('neck.reduce.conv.weight',
         "'layer_reduce.weight' or 'representation.conv_dr_block.0.weight'"),
        ('head.fc.weight', "'fc.weight' or 'classifier.weight'")):
        if key not in new_state_dict:
            raise KeyError(f'{src}: no {src_keys}; not a complete '
                           'MPNCOVResNet checkpoint')
    # The depth from the block type and the number of blocks in stage 3
    # (GCP_Optimization also releases BasicBlock ResNet-18/34).
    blocks = {k.split('.')[2] for k in new_state_dict
              if k.startswith('backbone.layer3.')}
    bottleneck = any('.conv3.' in k for k in new_state_dict)
    depths = {6: 50, 23: 101, 36: 152} if bottleneck else {2: 18, 6: 34}
    depth = depths.get(len(blocks))
    # fast-MPN-COV's main.py --arch resnetXX: torchvision's ResNet, layer4
    # at stride 2 (GCP_Optimization's archs are 'resnetXX_mpncov...')
    arch = str(extra.get('arch', ''))
    torchvision_resnet = arch.startswith('resnet') and 'mpncov' not in arch
    strides = (1, 2, 2, 2) if torchvision_resnet else (1, 2, 2, 1)
    meta = dict(
        source=osp.basename(src),
        converter='tools/model_converters/isqrt_cov2mmext.py',
        backbone=dict(type='ResNet', depth=depth, strides=strides),
        neck=dict(
            type='ISQRTCOVNeck',
            reduced_channels=int(
                new_state_dict['neck.reduce.conv.weight'].shape[0])),
        num_classes=int(new_state_dict['head.fc.weight'].shape[0]))
    save_checkpoint({'state_dict': new_state_dict, 'meta': meta}, dst)
    return meta


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        'Convert an iSQRT-COV (jiangtaoxie/fast-MPN-COV) or GCP '
        '(ZhangLi-CS/GCP_Optimization) ResNet '
        'checkpoint to an mmpretrain ImageClassifier checkpoint for mmext.',
        "the authors' checkpoint: a released model-zoo file (.pth) or one "
        "saved by fast-MPN-COV's main.py (.pth.tar)")

    def run(args) -> str:
        meta = convert(args.src, args.dst)
        return (f'saved {meta["backbone"]} ({meta["num_classes"]} classes) '
                f'to {args.dst}')

    return run_cli(parser, run, argv)


if __name__ == '__main__':
    sys.exit(main())
