"""Small domain-adaptation datasets in the layouts of ``configs/dapl``.

The images are scikit-learn's handwritten digits (no download), the even
domains as they are and the odd ones colour-inverted, so source and target
differ as in :mod:`tools.misc.dapl_digits`. Digit ``k`` is class ``k`` of the
benchmark; the other classes exist (as folders or in the class lists) but
hold no image. Layouts (those of Dassl, which the DAPL authors use):

- :func:`make_office_home_style`: ``<domain>/<Class_Folder>/<name>.png`` for
  the domains ``art``, ``clipart``, ``product``, ``real_world`` and the 65
  class folders (:data:`OFFICE_HOME_FOLDERS`).
- :func:`make_visda17_style`: ``train/`` (synthetic) and ``validation/``
  (real), each with ``image_list.txt`` lines ``<class>/<name>.png <label>``.
- :func:`make_mini_domainnet_style`: ``<domain>/<class>/<name>.png`` and
  ``splits_mini/<domain>_{train,test}.txt`` lines
  ``<domain>/<class>/<name>.png <label>``.
"""
import os
import os.path as osp
from typing import List, Sequence

import numpy as np

from .smoke_data import _check_int, _check_root, _imwrite, _write_lines

__all__ = [
    'make_office_home_style', 'make_visda17_style',
    'make_mini_domainnet_style', 'digit_images', 'OFFICE_HOME_FOLDERS',
    'OFFICE_HOME_DOMAINS', 'VISDA17_CLASSES', 'MINI_DOMAINNET_DOMAINS'
]

#: Office-Home's class folders as the official archive names them, sorted
#: as Dassl sorts them (``str.sort``: ``TV`` before ``Table``); the label is
#: the index, the prompt word the lower-cased name.
OFFICE_HOME_FOLDERS = (
    'Alarm_Clock', 'Backpack', 'Batteries', 'Bed', 'Bike', 'Bottle', 'Bucket',
    'Calculator', 'Calendar', 'Candles', 'Chair', 'Clipboards', 'Computer',
    'Couch', 'Curtains', 'Desk_Lamp', 'Drill', 'Eraser', 'Exit_Sign', 'Fan',
    'File_Cabinet', 'Flipflops', 'Flowers', 'Folder', 'Fork', 'Glasses',
    'Hammer', 'Helmet', 'Kettle', 'Keyboard', 'Knives', 'Lamp_Shade',
    'Laptop', 'Marker', 'Monitor', 'Mop', 'Mouse', 'Mug', 'Notebook', 'Oven',
    'Pan', 'Paper_Clip', 'Pen', 'Pencil', 'Postit_Notes', 'Printer',
    'Push_Pin', 'Radio', 'Refrigerator', 'Ruler', 'Scissors', 'Screwdriver',
    'Shelf', 'Sink', 'Sneakers', 'Soda', 'Speaker', 'Spoon', 'TV', 'Table',
    'Telephone', 'ToothBrush', 'Toys', 'Trash_Can', 'Webcam')
OFFICE_HOME_DOMAINS = ('art', 'clipart', 'product', 'real_world')
#: VisDA-2017's classes in label order
VISDA17_CLASSES = ('aeroplane', 'bicycle', 'bus', 'car', 'horse', 'knife',
                   'motorcycle', 'person', 'plant', 'skateboard', 'train',
                   'truck')
MINI_DOMAINNET_DOMAINS = ('clipart', 'painting', 'real', 'sketch')


def digit_images(per_class: int,
                 size: int = 32,
                 inverted: bool = False,
                 offset: int = 0) -> List[tuple]:
    """``[(label, (size, size, 3) uint8 image)]``: ``per_class`` digits of
    each class from scikit-learn's set (the ``offset``-th onwards), upsampled
    (bicubic), optionally colour-inverted (``255 - x``)."""
    import cv2
    from sklearn.datasets import load_digits
    digits = load_digits()
    out = []
    for label in range(10):
        idx = np.flatnonzero(digits.target == label)[offset:offset + per_class]
        for i in idx:
            img = digits.images[i].astype(np.float32) * (255.0 / 16.0)
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)
            img = np.clip(np.round(img), 0, 255).astype(np.uint8)
            if inverted:
                img = 255 - img
            out.append((label, np.repeat(img[..., None], 3, axis=2)))
    return out


def _domain_images(domain_index: int, per_class: int, size: int,
                   offset: int = 0) -> List[tuple]:
    return digit_images(per_class, size, domain_index % 2 == 1, offset)


def make_office_home_style(root,
                           per_class: int = 1,
                           size: int = 32,
                           domains: Sequence[str] = OFFICE_HOME_DOMAINS
                           ) -> str:
    """Write an Office-Home tree (Dassl's lower-case domain folders) with
    ``per_class`` digits in each of the first 10 class folders of every
    domain; the other 55 folders are empty.

    Returns:
        str: ``root`` (absolute).
    """
    root = _check_root(root)
    _check_int('per_class', per_class, 1)
    _check_int('size', size, 8)
    for d, domain in enumerate(domains):
        for folder in OFFICE_HOME_FOLDERS:
            os.makedirs(osp.join(root, domain, folder), exist_ok=True)
        for k, (label, img) in enumerate(
                _domain_images(d, per_class, size)):
            folder = OFFICE_HOME_FOLDERS[label]
            _imwrite(osp.join(root, domain, folder, f'{k:05d}.png'), img)
    return root


def make_visda17_style(root, per_class: int = 1, size: int = 32) -> str:
    """Write a VisDA-2017 tree: ``train/`` (the synthetic source, plain
    digits) and ``validation/`` (the real target, inverted digits), each
    with its ``image_list.txt``.

    Returns:
        str: ``root`` (absolute).
    """
    root = _check_root(root)
    _check_int('per_class', per_class, 1)
    for d, split in enumerate(('train', 'validation')):
        lines = []
        for k, (label, img) in enumerate(
                _domain_images(d, per_class, size)):
            rel = f'{VISDA17_CLASSES[label]}/{k:05d}.png'
            _imwrite(osp.join(root, split, rel), img)
            lines.append(f'{rel} {label}')
        _write_lines(osp.join(root, split, 'image_list.txt'), lines)
    return root


def make_mini_domainnet_style(root, per_class: int = 1,
                              size: int = 32) -> str:
    """Write a mini-DomainNet tree (``root`` is ``data/domainnet``) with
    train and test splits of ``per_class`` digits per class and domain
    (class folders ``class_<label>``; the split files carry the labels).

    Returns:
        str: ``root`` (absolute).
    """
    root = _check_root(root)
    _check_int('per_class', per_class, 1)
    for d, domain in enumerate(MINI_DOMAINNET_DOMAINS):
        for s, split in enumerate(('train', 'test')):
            lines = []
            for k, (label, img) in enumerate(
                    _domain_images(d, per_class, size, offset=s * per_class)):
                rel = f'{domain}/class_{label:03d}/{split}_{k:05d}.png'
                _imwrite(osp.join(root, rel), img)
                lines.append(f'{rel} {label}')
            _write_lines(
                osp.join(root, 'splits_mini', f'{domain}_{split}.txt'), lines)
    return root
