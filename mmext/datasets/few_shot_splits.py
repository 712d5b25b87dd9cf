"""Few-shot class splits in the on-disk formats the field uses.

A few-shot benchmark splits its *classes* into train (base), val and test
(novel) sets; every split is a dataset whose labels are ``0 .. C_split - 1``
in the split's own class order. Three formats are read:

- ``'csv'`` (DeepEMD / FEAT preparation of miniImageNet)::

      data/mini_imagenet/split/{train,val,test}.csv  # "filename,label" rows,
                                                     # header first
      data/mini_imagenet/images/<filename>           # raw-resolution crops

- ``'folder'`` (DeepEMD's tieredImageNet, DeepBDC's raw-image trees)::

      data/tiered_imagenet/{train,val,test}/<class>/<image>

- ``'json'`` (CloserLook ``write_*_filelist.py``: CUB-200 and the video
  splits TAMT uses)::

      data/CUB_200_2011/{base,val,novel}.json
      # {"label_names": [...], "image_names": [...], "image_labels": [...]}

  ``image_names`` relative to ``data_root`` (absolute ones are kept);
  ``image_labels`` index ``label_names`` and are remapped to ``0..C-1`` in
  increasing order.

A missing split file or class folder stops with one message naming the path
and the config keys (``data_root``, ``split``) that led to it.
"""
import csv
import json
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

from mmaction.datasets import VideoDataset
from mmpretrain.datasets import BaseDataset

from mmext.registry import DATASETS
from mmext.utils.validation import check_arg

__all__ = [
    'read_few_shot_split', 'FewShotImageDataset', 'MiniImageNet',
    'TieredImageNet', 'CUBFewShot', 'FewShotVideoDataset'
]

SPLITS = ('train', 'val', 'test')
FORMATS = ('csv', 'folder', 'json')
#: CloserLook's file names of the three splits.
JSON_NAMES = {'train': 'base', 'val': 'val', 'test': 'novel'}
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif',
                  '.tiff', '.webp')


def _missing(owner: str, what: str, path: str, data_root: str,
             split: str) -> FileNotFoundError:
    return FileNotFoundError(
        f'{owner}: {what} {path} not found (data_root={data_root!r}, '
        f'split={split!r})')


def read_few_shot_split(data_root: str,
                        split: str,
                        split_format: str,
                        owner: str = 'FewShotImageDataset',
                        extensions: Sequence[str] = IMG_EXTENSIONS
                        ) -> Tuple[List[str], List[int], List[str]]:
    """Read one split.

    Args:
        data_root: Root of the benchmark (e.g. ``data/mini_imagenet``).
        split: ``'train'``, ``'val'`` or ``'test'``.
        split_format: ``'csv'``, ``'folder'`` or ``'json'``.
        owner: Name used in error messages.
        extensions: File endings read by the ``'folder'`` format.

    Returns:
        tuple: absolute file paths, labels (``0 .. C - 1``) and the ``C``
        class names.

    Raises:
        FileNotFoundError: the split file, the split folder, a class folder
            or (``'csv'``) the image folder is missing.
        ValueError: the split file is malformed or empty.
    """
    paths, names = [], []
    if split_format == 'csv':
        ann = osp.join(data_root, 'split', f'{split}.csv')
        if not osp.isfile(ann):
            raise _missing(owner, 'split file', ann, data_root, split)
        img_dir = osp.join(data_root, 'images')
        if not osp.isdir(img_dir):
            raise _missing(owner, 'image folder', img_dir, data_root, split)
        with open(ann, newline='', encoding='utf-8') as f:
            rows = list(csv.reader(f))
        if rows and rows[0][:2] == ['filename', 'label']:
            rows = rows[1:]
        for n, row in enumerate(rows, 2):
            if len(row) < 2:
                raise ValueError(f'{owner}: {ann} line {n} is not '
                                 f'"filename,label": {row!r}')
            paths.append(osp.join(img_dir, row[0]))
            names.append(row[1])
        # FEAT / DeepEMD number the classes in order of first appearance
        classes = list(dict.fromkeys(names))
    elif split_format == 'folder':
        split_dir = osp.join(data_root, split)
        if not osp.isdir(split_dir):
            raise _missing(owner, 'split folder', split_dir, data_root, split)
        classes = sorted(d for d in os.listdir(split_dir)
                         if osp.isdir(osp.join(split_dir, d)))
        for c in classes:
            files = sorted(
                f for f in os.listdir(osp.join(split_dir, c))
                if f.lower().endswith(tuple(e.lower() for e in extensions)))
            paths += [osp.join(split_dir, c, f) for f in files]
            names += [c] * len(files)
    elif split_format == 'json':
        ann = osp.join(data_root, f'{JSON_NAMES[split]}.json')
        if not osp.isfile(ann):
            raise _missing(owner, 'split file', ann, data_root, split)
        with open(ann, encoding='utf-8') as f:
            meta = json.load(f)
        for key in ('label_names', 'image_names', 'image_labels'):
            if key not in meta:
                raise ValueError(f'{owner}: {ann} has no {key!r} list')
        if len(meta['image_names']) != len(meta['image_labels']):
            raise ValueError(f'{owner}: {ann} has '
                             f'{len(meta["image_names"])} image_names but '
                             f'{len(meta["image_labels"])} image_labels')
        used = sorted(set(int(x) for x in meta['image_labels']))
        classes = [str(meta['label_names'][i]) for i in used]
        for name, label in zip(meta['image_names'], meta['image_labels']):
            paths.append(name if osp.isabs(name) else osp.join(
                data_root, name))
            names.append(str(meta['label_names'][int(label)]))
    else:
        raise ValueError(f'{owner}: split_format={split_format!r} is '
                         f'invalid; expected one of {FORMATS}')
    if not paths:
        raise ValueError(f'{owner}: split {split!r} under {data_root} has no '
                         'samples')
    lookup = {c: i for i, c in enumerate(classes)}
    labels = [lookup[n] for n in names]
    if split_format != 'folder':
        # a class folder named by the split file must exist: one message
        # instead of a failed read deep inside an epoch
        checked = set()
        for p in paths:
            folder = osp.dirname(p)
            if folder not in checked:
                if not osp.isdir(folder):
                    raise _missing(owner, 'class folder', folder, data_root,
                                   split)
                checked.add(folder)
    return paths, labels, classes


class _SplitMixin:
    """Argument checks shared by the image and the video split datasets."""

    def _check_split_args(self, data_root, split, split_format) -> None:
        check_arg(self, 'data_root', data_root, str)
        check_arg(self, 'split', split, choices=SPLITS)
        check_arg(self, 'split_format', split_format, choices=FORMATS)


@DATASETS.register_module()
class FewShotImageDataset(BaseDataset, _SplitMixin):
    """One class split of a few-shot image benchmark (mmpretrain dataset).

    Args:
        data_root (str): Root of the benchmark.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        split_format (str): ``'csv'``, ``'folder'`` or ``'json'`` (see the
            module docstring).
        pipeline (list): mmpretrain transforms.
        **kwargs: Other ``mmpretrain.datasets.BaseDataset`` arguments
            (``indices``, ``test_mode``, ...).
    """
    default_format = 'folder'

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 split_format: Optional[str] = None,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        split_format = split_format or self.default_format
        self._check_split_args(data_root, split, split_format)
        self.split = split
        self.split_format = split_format
        super().__init__(
            ann_file='', data_root=data_root, pipeline=pipeline, **kwargs)

    def load_data_list(self) -> List[dict]:
        paths, labels, classes = read_few_shot_split(
            self.data_root, self.split, self.split_format,
            type(self).__name__)
        self._metainfo['classes'] = tuple(classes)
        return [
            dict(img_path=p, gt_label=int(y)) for p, y in zip(paths, labels)
        ]


@DATASETS.register_module()
class MiniImageNet(FewShotImageDataset):
    """miniImageNet, 64/16/20 classes, DeepEMD / FEAT ``split/*.csv`` over
    raw-resolution ILSVRC-2012 crops (``split_format='folder'`` reads the
    same classes arranged as ``{split}/<wnid>/``)."""
    default_format = 'csv'


@DATASETS.register_module()
class TieredImageNet(FewShotImageDataset):
    """tieredImageNet, 351/97/160 classes, DeepEMD's folder trees."""
    default_format = 'folder'


@DATASETS.register_module()
class CUBFewShot(FewShotImageDataset):
    """CUB-200-2011, CloserLook's 100/50/50 split (``base``, ``val``,
    ``novel`` json file lists)."""
    default_format = 'json'


@DATASETS.register_module()
class FewShotVideoDataset(VideoDataset, _SplitMixin):
    """One class split of a few-shot video benchmark, as an mmaction2
    ``VideoDataset`` (``filename`` and ``label`` per clip).

    The splits TAMT uses (HMDB51, UCF101, SSv2, Diving48 targets, a
    Kinetics source) come as CloserLook-style json lists
    (``split_format='json'``: ``{base,val,novel}.json`` with video paths in
    ``image_names``) or as class folders (``'folder'``, ``.mp4``/``.avi``/
    ``.webm``/``.mkv`` files).

    Args:
        data_root (str): Root of the benchmark, e.g. ``data/hmdb51_fs``.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        split_format (str): ``'json'``, ``'folder'`` or ``'csv'``.
        pipeline (list): mmaction2 transforms.
        **kwargs: Other ``VideoDataset`` arguments.
    """
    VIDEO_EXTENSIONS = ('.mp4', '.avi', '.webm', '.mkv')

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 split_format: str = 'json',
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        self._check_split_args(data_root, split, split_format)
        self.split = split
        self.split_format = split_format
        super().__init__(
            ann_file='',
            pipeline=pipeline,
            data_root=data_root,
            data_prefix=dict(video=''),
            **kwargs)

    def load_data_list(self) -> List[dict]:
        paths, labels, classes = read_few_shot_split(
            self.data_root, self.split, self.split_format,
            type(self).__name__, self.VIDEO_EXTENSIONS)
        self._metainfo['classes'] = tuple(classes)
        return [dict(filename=p, label=int(y)) for p, y in zip(paths, labels)]
