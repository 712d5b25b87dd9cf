"""Small fine-grained datasets in their real on-disk formats.

:func:`make_cub_style` writes what mmpretrain's ``CUB`` dataset reads from
``data/CUB_200_2011``: ``images/<class folder>/<name>.jpg``, ``images.txt``
(``<id> <path>``), ``image_class_labels.txt`` (``<id> <1-based label>``) and
``train_test_split.txt`` (``<id> <1 = train, 0 = test>``), ids from 1.
:func:`make_aircraft_style` and :func:`make_stanford_cars_style` do the same
for ``FGVCAircraft`` (``data/fgvc_aircraft``) and ``StanfordCars``
(``data/stanford_cars``).
"""
import os.path as osp

import numpy as np

from .smoke_data import (_check_int, _check_root, _class_image, _imwrite,
                         _write_lines)

__all__ = ['make_cub_style', 'make_aircraft_style', 'make_stanford_cars_style']


def make_cub_style(root,
                   num_classes: int = 4,
                   train_per_class: int = 2,
                   test_per_class: int = 1,
                   size: int = 48,
                   seed: int = 0) -> str:
    """Write a CUB-200-2011-style tree with the first ``num_classes``
    classes (labels ``0 .. num_classes - 1`` of the 200).

    Returns:
        str: ``root`` (absolute).
    """
    root = _check_root(root)
    _check_int('num_classes', num_classes, 2)
    _check_int('train_per_class', train_per_class, 1)
    _check_int('test_per_class', test_per_class, 1)
    _check_int('size', size, 8)
    rng = np.random.default_rng(seed)
    images, labels, splits = [], [], []
    for label in range(num_classes):
        folder = f'{label + 1:03d}.class_{label}'
        for k in range(train_per_class + test_per_class):
            rel = f'{folder}/class_{label}_{k:04d}.jpg'
            _imwrite(osp.join(root, 'images', rel),
                     _class_image(label, num_classes, size, rng))
            idx = len(images) + 1
            images.append(f'{idx} {rel}')
            labels.append(f'{idx} {label + 1}')
            splits.append(f'{idx} {int(k < train_per_class)}')
    _write_lines(osp.join(root, 'images.txt'), images)
    _write_lines(osp.join(root, 'image_class_labels.txt'), labels)
    _write_lines(osp.join(root, 'train_test_split.txt'), splits)
    return root


def make_aircraft_style(root,
                        num_classes: int = 4,
                        train_per_class: int = 2,
                        test_per_class: int = 1,
                        size: int = 48,
                        seed: int = 0) -> str:
    """Write an FGVC-Aircraft-style tree (mmpretrain ``FGVCAircraft``):
    ``data/images/<id>.jpg`` and ``data/images_variant_{trainval,test}.txt``
    (``<id> <variant name>``), with the first ``num_classes`` variants.

    Returns:
        str: ``root`` (absolute).
    """
    from mmpretrain.datasets import FGVCAircraft
    root = _check_root(root)
    _check_int('num_classes', num_classes, 2)
    rng = np.random.default_rng(seed)
    variants = FGVCAircraft.METAINFO['classes'][:num_classes]
    lines = {'trainval': [], 'test': []}
    idx = 1000000
    for label, variant in enumerate(variants):
        for k in range(train_per_class + test_per_class):
            _imwrite(osp.join(root, 'data', 'images', f'{idx}.jpg'),
                     _class_image(label, num_classes, size, rng))
            split = 'trainval' if k < train_per_class else 'test'
            lines[split].append(f'{idx} {variant}')
            idx += 1
    for split, split_lines in lines.items():
        _write_lines(
            osp.join(root, 'data', f'images_variant_{split}.txt'),
            split_lines)
    return root


def make_stanford_cars_style(root,
                             num_classes: int = 4,
                             train_per_class: int = 2,
                             test_per_class: int = 1,
                             size: int = 48,
                             seed: int = 0) -> str:
    """Write a Stanford-Cars-style tree (mmpretrain ``StanfordCars``):
    ``car_ims/<id>.jpg`` and ``cars_annos.mat`` whose ``annotations``
    struct array holds ``relative_im_path``, 1-based ``class`` and ``test``.

    Returns:
        str: ``root`` (absolute).
    """
    from scipy.io import savemat
    root = _check_root(root)
    _check_int('num_classes', num_classes, 2)
    rng = np.random.default_rng(seed)
    records = []
    for label in range(num_classes):
        for k in range(train_per_class + test_per_class):
            rel = f'car_ims/{len(records) + 1:06d}.jpg'
            _imwrite(osp.join(root, rel),
                     _class_image(label, num_classes, size, rng))
            records.append((rel, label + 1, int(k >= train_per_class)))
    annotations = np.array(
        records,
        dtype=[('relative_im_path', object), ('class', np.uint8),
               ('test', np.uint8)])
    savemat(osp.join(root, 'cars_annos.mat'), {'annotations': annotations})
    return root
