"""A small PASCAL VOC-style dataset in the real on-disk format.

:func:`make_voc_style` writes what mmdet's ``VOCDataset`` reads from
``data/VOCdevkit``, for both years of the usual VOC07+12 setting::

    root/VOC2007/JPEGImages/<id>.jpg
    root/VOC2007/Annotations/<id>.xml
    root/VOC2007/ImageSets/Main/{trainval,test}.txt
    root/VOC2012/... (the same)

The images are those of the COCO-style writer (filled rectangles and
ellipses on noise); object ``k`` is named after VOC class ``k - 1``
(``aeroplane``, ``bicycle``, ...). Boxes use VOC's 1-based inclusive pixel
coordinates.
"""
import os
import os.path as osp
from xml.etree import ElementTree as ET

import numpy as np

from .smoke_data import (_check_int, _check_root, _coco_image, _imwrite,
                         _write_lines)

__all__ = ['make_voc_style', 'VOC_CLASSES']

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus',
               'car', 'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
               'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
               'train', 'tvmonitor')


def _annotation_xml(image_id: str, size: int, objects) -> ET.ElementTree:
    ann = ET.Element('annotation')
    ET.SubElement(ann, 'filename').text = f'{image_id}.jpg'
    size_el = ET.SubElement(ann, 'size')
    for key, value in (('width', size), ('height', size), ('depth', 3)):
        ET.SubElement(size_el, key).text = str(value)
    for cat, poly in objects:
        obj = ET.SubElement(ann, 'object')
        ET.SubElement(obj, 'name').text = VOC_CLASSES[cat - 1]
        ET.SubElement(obj, 'difficult').text = '0'
        box = ET.SubElement(obj, 'bndbox')
        # pixel i covers [i, i + 1): VOC's 1-based inclusive corners
        x1, y1 = np.floor(poly.min(axis=0)).astype(int) + 1
        x2, y2 = np.ceil(poly.max(axis=0)).astype(int)
        for key, value in (('xmin', x1), ('ymin', y1), ('xmax', x2),
                           ('ymax', y2)):
            ET.SubElement(box, key).text = str(int(value))
    return ET.ElementTree(ann)


def make_voc_style(root,
                   num_images: int = 4,
                   size: int = 64,
                   num_classes: int = 2,
                   seed: int = 0) -> str:
    """Write VOC2007 and VOC2012 with ``num_images`` ``size`` x ``size``
    images in each of ``trainval`` and ``test``, objects of the first
    ``num_classes`` VOC classes.

    Returns:
        str: ``root`` (absolute).
    """
    root = _check_root(root)
    _check_int('num_images', num_images, 1)
    _check_int('size', size, 16)
    _check_int('num_classes', num_classes, 1)
    if num_classes > len(VOC_CLASSES):
        raise ValueError(f'num_classes must be <= {len(VOC_CLASSES)}, got '
                         f'{num_classes}')
    _check_int('seed', seed, 0)
    rng = np.random.default_rng(seed)
    for year in ('2007', '2012'):
        year_root = osp.join(root, f'VOC{year}')
        os.makedirs(osp.join(year_root, 'Annotations'), exist_ok=True)
        for split in ('trainval', 'test'):
            ids = []
            for k in range(num_images):
                image_id = f'{year}_{split}_{k:06d}'
                img, objects = _coco_image(size, num_classes, rng)
                _imwrite(osp.join(year_root, 'JPEGImages', f'{image_id}.jpg'),
                         img)
                _annotation_xml(image_id, size, objects).write(
                    osp.join(year_root, 'Annotations', f'{image_id}.xml'))
                ids.append(image_id)
            _write_lines(
                osp.join(year_root, 'ImageSets', 'Main', f'{split}.txt'), ids)
    return root
