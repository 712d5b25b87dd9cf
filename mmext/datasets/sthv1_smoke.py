"""A Something-Something-V1-style dataset in mmaction2's rawframe format.

Something-Something V1 is distributed as JPEG frames only; mmaction2 reads it
with ``RawframeDataset`` (``tools/data/sthv1``). :func:`make_sthv1_style`
writes the same layout from the moving-square clips of
:func:`mmext.datasets.make_kinetics_style` (the direction of motion and the
background colour carry the label).
"""
import os.path as osp

import numpy as np

from .smoke_data import (_check_int, _check_root, _class_clip, _imwrite,
                         _write_lines)

__all__ = ['make_sthv1_style']


def make_sthv1_style(root,
                     num_classes: int = 2,
                     train_per_class: int = 2,
                     val_per_class: int = 1,
                     num_frames: int = 16,
                     size: int = 32,
                     seed: int = 0) -> str:
    """Write a Something-Something-V1-style rawframe dataset.

    Layout (that of ``data/sthv1`` after ``tools/data/sthv1``)::

        root/rawframes/<id>/00001.jpg ...     # frames from 1
        root/sthv1_train_list_rawframes.txt   # "<id> <frames> <label>"
        root/sthv1_val_list_rawframes.txt

    Load with ``RawframeDataset(ann_file=root +
    '/sthv1_train_list_rawframes.txt', data_prefix=dict(img=root +
    '/rawframes'), filename_tmpl='{:05}.jpg', pipeline=[...])``.

    Returns:
        str: ``root`` (absolute).
    """
    root = _check_root(root)
    _check_int('num_classes', num_classes, 2)
    _check_int('train_per_class', train_per_class, 1)
    _check_int('val_per_class', val_per_class, 1)
    _check_int('num_frames', num_frames, 2)
    _check_int('size', size, 16)
    _check_int('seed', seed, 0)
    rng = np.random.default_rng(seed)
    video_id = 1
    for split, per_class in (('train', train_per_class), ('val',
                                                          val_per_class)):
        lines = []
        for label in range(num_classes):
            for _ in range(per_class):
                frames = _class_clip(label, num_classes, num_frames, size,
                                     rng)
                for t, frame in enumerate(frames, 1):
                    _imwrite(
                        osp.join(root, 'rawframes', str(video_id),
                                 f'{t:05d}.jpg'), frame)
                lines.append(f'{video_id} {num_frames} {label}')
                video_id += 1
        _write_lines(osp.join(root, f'sthv1_{split}_list_rawframes.txt'),
                     lines)
    return root
