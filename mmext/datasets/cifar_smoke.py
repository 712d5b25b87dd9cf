"""A small CIFAR-100 in the real on-disk format (python pickles).

:func:`make_cifar100_style` writes ``cifar-100-python/{train,test,meta}``
exactly as the official archive lays them out (``data`` as ``(N, 3072)``
uint8 rows, channel-major RGB, ``fine_labels``, ``coarse_labels``,
``filenames``, ``batch_label``; ``meta`` with the label names), which
mmpretrain's ``CIFAR100`` parses. mmpretrain also verifies the official
MD5 checksums, which synthetic files cannot match: :class:`SmokeCIFAR100`
reads the same files without that check, and the smoke harness
(:func:`mmext.testing.shrink_config`) swaps it in for ``CIFAR100``.
"""
import os
import os.path as osp
import pickle

import numpy as np
from mmpretrain.datasets import CIFAR100

from mmext.registry import DATASETS
from .smoke_data import _check_int, _check_root, _class_image

__all__ = ['make_cifar100_style', 'SmokeCIFAR100']

CIFAR100_NUM_CLASSES = 100


def _write_split(path: str, split: str, labels: np.ndarray,
                 rng: np.random.Generator) -> None:
    # _class_image draws BGR; CIFAR stores RGB, channel-major
    imgs = np.stack([
        _class_image(int(y), CIFAR100_NUM_CLASSES, 32, rng)[..., ::-1]
        for y in labels
    ])
    entry = {
        'batch_label': f'{split} batch (mmext smoke data)',
        'filenames': [f'{split}_{i:05d}.png' for i in range(len(labels))],
        'fine_labels': [int(y) for y in labels],
        'coarse_labels': [int(y) // 5 for y in labels],
        'data': imgs.transpose(0, 3, 1, 2).reshape(len(labels), -1).copy(),
    }
    with open(path, 'wb') as f:
        pickle.dump(entry, f)


def make_cifar100_style(root,
                        num_train: int = 200,
                        num_test: int = 100,
                        seed: int = 0) -> str:
    """Write a CIFAR-100 tree (``root/cifar-100-python``) with few images.

    Labels cycle through the 100 classes, so ``num_train >= 100`` covers
    every class. Deterministic given ``seed``.

    Args:
        root: Output directory (``data/cifar100`` in the configs).
        num_train (int): Training images. Defaults to 200.
        num_test (int): Test images. Defaults to 100.
        seed (int): Random seed. Defaults to 0.

    Returns:
        str: ``root``.
    """
    root = _check_root(root)
    _check_int('num_train', num_train, 1)
    _check_int('num_test', num_test, 1)
    rng = np.random.default_rng(seed)
    folder = osp.join(root, CIFAR100.base_folder)
    os.makedirs(folder, exist_ok=True)
    _write_split(
        osp.join(folder, 'train'), 'training',
        np.arange(num_train) % CIFAR100_NUM_CLASSES, rng)
    _write_split(
        osp.join(folder, 'test'), 'testing',
        np.arange(num_test) % CIFAR100_NUM_CLASSES, rng)
    classes = list(CIFAR100.METAINFO['classes'])
    with open(osp.join(folder, 'meta'), 'wb') as f:
        pickle.dump(
            {
                'fine_label_names': classes,
                'coarse_label_names': [f'superclass_{i}' for i in range(20)]
            }, f)
    return root


@DATASETS.register_module()
class SmokeCIFAR100(CIFAR100):
    """mmpretrain's ``CIFAR100`` without the MD5 check of the official
    files (for :func:`make_cifar100_style` trees); never downloads."""

    train_list = [['train', None]]
    test_list = [['test', None]]
    meta = dict(CIFAR100.meta, md5=None)

    def __init__(self, *args, **kwargs) -> None:
        kwargs['download'] = False
        super().__init__(*args, **kwargs)
