"""Write the small smoke-test datasets in OpenMMLab formats.

Usage::

    python tools/misc/make_smoke_data.py {imagenet,coco,voc,kinetics,digits,all} \
        [--out data/smoke] [--seed 0]

Writes ``<out>/imagenet`` (mmpretrain CustomDataset tree + meta files),
``<out>/coco`` (COCO json with boxes and polygons), ``<out>/VOCdevkit``
(PASCAL VOC 2007 + 2012 XML), ``<out>/kinetics400``
(mp4 clips + VideoDataset lists) and ``<out>/digits`` (scikit-learn digits,
skipped when already complete). See :mod:`mmext.datasets.smoke_data`.
"""
import argparse
import os.path as osp
import sys

TARGETS = ('imagenet', 'coco', 'voc', 'kinetics', 'digits')
SUBDIRS = dict(
    imagenet='imagenet',
    coco='coco',
    voc='VOCdevkit',
    kinetics='kinetics400',
    digits='digits')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write small datasets in OpenMMLab formats')
    parser.add_argument('dataset', choices=TARGETS + ('all', ))
    parser.add_argument(
        '--out', default='data/smoke', help='parent folder of the datasets')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    # Run from a checkout without installing: make `mmext` importable.
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    if repo not in sys.path:
        sys.path.insert(0, repo)
    from mmext.datasets import make_voc_style, smoke_data

    writers = dict(
        imagenet=smoke_data.make_imagenet_style,
        coco=smoke_data.make_coco_style,
        voc=make_voc_style,
        kinetics=smoke_data.make_kinetics_style,
        digits=smoke_data.make_digits)
    names = TARGETS if args.dataset == 'all' else (args.dataset, )
    written = {}
    for name in names:
        root = osp.join(args.out, SUBDIRS[name])
        written[name] = writers[name](root, seed=args.seed)
        print(f'{name}: {written[name]}')
    return written


if __name__ == '__main__':
    main()
