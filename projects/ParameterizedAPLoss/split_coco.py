"""Split a COCO annotation file by image into a search-training and a
held-out search-validation file (the proxy task never sees val2017).

Usage::

    python projects/ParameterizedAPLoss/split_coco.py \\
        data/coco/annotations/instances_train2017.json \\
        --val-images 5000 --seed 0
    # -> search_train2017.json, search_val2017.json next to the input
"""
import argparse
import json
import os
import os.path as osp
import random
from typing import Optional, Sequence, Tuple


def split_coco(ann_file: str, val_images: int, seed: int = 0,
               out_dir: Optional[str] = None) -> Tuple[str, str]:
    """Write ``search_train2017.json`` and ``search_val2017.json``; returns
    their paths. ``val_images`` images (chosen with ``seed``) go to the
    validation file, with their annotations."""
    with open(ann_file, encoding='utf-8') as f:
        coco = json.load(f)
    ids = sorted(img['id'] for img in coco['images'])
    if not 0 < val_images < len(ids):
        raise ValueError(f'val_images must be in [1, {len(ids) - 1}], got '
                         f'{val_images}')
    val = set(random.Random(seed).sample(ids, val_images))
    out_dir = out_dir or osp.dirname(ann_file)
    paths = []
    for name, keep in (('search_train2017.json', lambda i: i not in val),
                       ('search_val2017.json', lambda i: i in val)):
        part = dict(coco)
        part['images'] = [im for im in coco['images'] if keep(im['id'])]
        part['annotations'] = [
            a for a in coco['annotations'] if keep(a['image_id'])
        ]
        path = osp.join(out_dir, name)
        tmp = f'{path}.tmp{os.getpid()}'
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(part, f)
        os.replace(tmp, path)
        paths.append(path)
    return paths[0], paths[1]


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('ann_file')
    parser.add_argument('--val-images', type=int, default=5000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out-dir')
    args = parser.parse_args(argv)
    print(*split_coco(args.ann_file, args.val_images, args.seed,
                      args.out_dir))


if __name__ == '__main__':
    main()
