"""A few-shot video benchmark in class folders (TAMT's smoke data).

Few-shot action recognition splits the *classes* of a video set into base,
val and novel sets (:class:`mmext.datasets.FewShotVideoDataset`).
:func:`make_few_shot_video_style` writes such a benchmark from the
moving-square clips of :func:`mmext.datasets.make_kinetics_style` (the
direction of motion and the background colour carry the class), with
disjoint classes per split.
"""
import os.path as osp

import numpy as np

from .smoke_data import (_check_int, _check_mp4_clips, _check_root,
                         _class_clip, _write_mp4)

__all__ = ['make_few_shot_video_style']

SPLITS = ('train', 'val', 'test')


def make_few_shot_video_style(root,
                              classes_per_split: int = 10,
                              clips_per_class: int = 7,
                              num_frames: int = 16,
                              size: int = 32,
                              fps: int = 8,
                              seed: int = 0) -> str:
    """Write a class-folder few-shot video benchmark.

    Layout (``split_format='folder'`` of
    :class:`~mmext.datasets.FewShotVideoDataset`)::

        root/train/class_00/clip_000.mp4 ...   # classes 0 .. C - 1
        root/val/class_10/clip_000.mp4 ...     # classes C .. 2C - 1
        root/test/class_20/clip_000.mp4 ...    # classes 2C .. 3C - 1

    Args:
        root: Output folder.
        classes_per_split: Classes ``C`` of each split (>= 2).
        clips_per_class: Clips of each class (>= 2); an N-way K-shot
            episode with Q queries needs ``K + Q``.
        num_frames: Frames per clip. size: Frame side (even). fps: Frame
            rate. seed: Noise and start positions.

    Returns:
        str: ``root`` (absolute).
    """
    root = _check_root(root)
    _check_int('classes_per_split', classes_per_split, 2)
    _check_int('clips_per_class', clips_per_class, 2)
    _check_mp4_clips(num_frames, size, fps, seed)
    rng = np.random.default_rng(seed)
    total = classes_per_split * len(SPLITS)
    for s, split in enumerate(SPLITS):
        for label in range(s * classes_per_split,
                           (s + 1) * classes_per_split):
            for k in range(clips_per_class):
                frames = _class_clip(label, total, num_frames, size, rng)
                _write_mp4(
                    osp.join(root, split, f'class_{label:02d}',
                             f'clip_{k:03d}.mp4'), frames, fps)
    return root
