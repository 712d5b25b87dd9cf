"""Datasets and dataset writers.

mmext has no dataset classes yet; :mod:`.smoke_data` writes small datasets in
the formats the stock mmpretrain / mmdet / mmaction2 classes already load.
"""
from .smoke_data import (make_coco_style, make_digits, make_imagenet_style,
                         make_kinetics_style)

__all__ = [
    'make_imagenet_style', 'make_coco_style', 'make_kinetics_style',
    'make_digits'
]
