"""Small datasets written in the real OpenMMLab on-disk formats.

Each writer produces a tree that the stock dataset classes load unchanged, so
a config can be smoke-tested end to end (data pipeline, model, evaluation)
without downloading anything:

- :func:`make_imagenet_style`: mmpretrain ``CustomDataset`` folder tree plus
  ``meta/{train,val,classes}.txt`` like ``data/imagenet/meta``.
- :func:`make_coco_style`: ``train2017/``, ``val2017/`` and
  ``annotations/instances_{train,val}2017.json`` with boxes and polygon masks,
  for mmdet's ``CocoDataset``.
- :func:`make_kinetics_style`: ``.mp4`` clips and the
  ``kinetics400_{train,val}_list_videos.txt`` lists of mmaction2's
  ``VideoDataset``.
- :func:`make_digits`: scikit-learn's 1,797 handwritten digits as a
  ``CustomDataset`` folder tree (a real, learnable, offline dataset).

Every writer is deterministic given ``seed`` and returns ``root``. The
synthetic images are learnable on purpose: the class decides the colour and
the pattern, noise only perturbs them, so a few iterations of training move
the loss, which is what a smoke test needs to see.
"""
import colorsys
import json
import os
import os.path as osp
import shutil
from typing import List, Sequence, Tuple

import numpy as np

__all__ = [
    'make_imagenet_style', 'make_coco_style', 'make_kinetics_style',
    'make_digits'
]

DIGITS_TOTAL = 1797


# ----------------------------------------------------------------- helpers
def _cv2():
    # Imported lazily: ``import mmext`` must not pay for OpenCV.
    import cv2
    return cv2


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f'{name} must be an int, got {value!r}')
    if value < minimum:
        raise ValueError(f'{name} must be >= {minimum}, got {value}')


def _check_root(root) -> str:
    if not isinstance(root, (str, os.PathLike)) or not str(root):
        raise ValueError(f'root must be a non-empty path, got {root!r}')
    return osp.abspath(os.fspath(root))


def _palette(n: int) -> List[Tuple[int, int, int]]:
    """``n`` well separated, saturated BGR colours (evenly spaced hues)."""
    colours = []
    for i in range(n):
        r, g, b = colorsys.hsv_to_rgb(i / n, 0.85, 0.9)
        colours.append((int(b * 255), int(g * 255), int(r * 255)))
    return colours


def _imwrite(path: str, img: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    if not _cv2().imwrite(path, img):
        raise OSError(f'cv2.imwrite failed for {path}')


def _write_lines(path: str, lines: Sequence[str]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def _class_image(label: int, num_classes: int, size: int,
                 rng: np.random.Generator) -> np.ndarray:
    """A ``(size, size, 3)`` uint8 BGR image whose content encodes ``label``.

    Colour is the class's palette entry; a sinusoidal grating whose
    orientation also depends on the class adds a shape cue, so the classes
    stay separable after colour jitter. Random phase, brightness and pixel
    noise make every sample different.
    """
    colour = np.array(_palette(num_classes)[label], dtype=np.float32)
    theta = np.pi * label / num_classes
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    phase = rng.uniform(0, 2 * np.pi)
    grating = 0.5 + 0.5 * np.sin(2 * np.pi * 3 *
                                 (xx * np.cos(theta) + yy * np.sin(theta)) +
                                 phase)
    img = colour[None, None, :] * (0.4 + 0.6 * grating[..., None])
    img *= rng.uniform(0.8, 1.2)
    img += rng.normal(0, 12, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


# ------------------------------------------------------- ImageNet layout
def make_imagenet_style(root,
                        num_classes: int = 4,
                        train_per_class: int = 4,
                        val_per_class: int = 2,
                        size: int = 32,
                        seed: int = 0) -> str:
    """Write an ImageNet-style classification tree for mmpretrain.

    Layout (the one of ``data/imagenet`` with its ``meta`` folder)::

        root/train/class_0/class_0_0000.png ...
        root/val/class_0/class_0_0000.png ...
        root/meta/train.txt    # "class_0/class_0_0000.png 0" (under train/)
        root/meta/val.txt      # relative to val/
        root/meta/classes.txt  # one class name a line, in label order

    Load with ``CustomDataset(data_root=root, data_prefix='train',
    ann_file='meta/train.txt', classes='meta/classes.txt')`` or, without the
    annotation file, ``CustomDataset(data_root=root, data_prefix='train')``
    (class names then come from the sorted folder names, which match the
    label order here for up to 10 classes; with more, use the meta files).

    Returns:
        str: ``root`` (absolute).
    """
    root = _check_root(root)
    _check_int('num_classes', num_classes, 2)
    _check_int('train_per_class', train_per_class, 1)
    _check_int('val_per_class', val_per_class, 1)
    _check_int('size', size, 8)
    _check_int('seed', seed, 0)
    rng = np.random.default_rng(seed)
    width = len(str(num_classes - 1))
    classes = [f'class_{i:0{width}d}' for i in range(num_classes)]
    for split, per_class in (('train', train_per_class), ('val',
                                                          val_per_class)):
        lines = []
        for label, name in enumerate(classes):
            for k in range(per_class):
                rel = f'{name}/{name}_{k:04d}.png'
                img = _class_image(label, num_classes, size, rng)
                _imwrite(osp.join(root, split, rel), img)
                lines.append(f'{rel} {label}')
        _write_lines(osp.join(root, 'meta', f'{split}.txt'), lines)
    _write_lines(osp.join(root, 'meta', 'classes.txt'), classes)
    return root


# ------------------------------------------------------------ COCO layout
#: The 80 COCO category ids (non-contiguous, as in the official files).
COCO_CATEGORY_IDS = (list(range(1, 12)) + list(range(13, 26)) + [27, 28] +
                     list(range(31, 45)) + list(range(46, 66)) + [67, 70] +
                     list(range(72, 83)) + list(range(84, 91)))


def _coco_categories() -> List[dict]:
    """COCO's 80 categories with their official ids and names."""
    from mmdet.datasets import CocoDataset
    names = CocoDataset.METAINFO['classes']
    return [
        dict(id=i, name=n, supercategory='smoke')
        for i, n in zip(COCO_CATEGORY_IDS, names)
    ]


def _shape_of(category_id: int) -> str:
    """Odd category ids are rectangles, even ones ellipses."""
    return 'rectangle' if category_id % 2 == 1 else 'ellipse'


def _ellipse_polygon(cx: float, cy: float, ax: float, ay: float,
                     num_points: int = 24) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, num_points, endpoint=False)
    return np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t)], axis=1)


def _polygon_area(poly: np.ndarray) -> float:
    """Shoelace formula; ``poly`` is ``(K, 2)`` in (x, y)."""
    x, y = poly[:, 0], poly[:, 1]
    return float(0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x,
                                                                        -1))))


def _coco_image(size: int, num_classes: int, rng: np.random.Generator,
                max_objects: int = 3):
    """One image and its objects as (category_id, polygon (K, 2)) pairs.

    Pixel ``i`` covers ``[i, i + 1)`` (COCO's convention, which pycocotools
    rasterises exactly for axis-aligned integer rectangles): a rectangle with
    corners ``(x1, y1)``, ``(x2, y2)`` fills pixels ``x1..x2-1``,
    ``y1..y2-1`` and has area ``(x2 - x1) * (y2 - y1)``.
    """
    cv2 = _cv2()
    palette = _palette(num_classes)
    img = rng.normal(110, 10, size=(size, size, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    objects = []
    min_side = max(4, size // 8)
    for _ in range(int(rng.integers(1, max_objects + 1))):
        cat = int(rng.integers(1, num_classes + 1))
        w, h = (int(v) for v in rng.integers(min_side, size // 2 + 1, 2))
        x1 = int(rng.integers(0, size - w + 1))
        y1 = int(rng.integers(0, size - h + 1))
        colour = palette[cat - 1]
        if _shape_of(cat) == 'rectangle':
            x2, y2 = x1 + w, y1 + h
            img[y1:y2, x1:x2] = colour
            poly = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]],
                            dtype=np.float64)
        else:
            poly = _ellipse_polygon(x1 + w / 2, y1 + h / 2, w / 2, h / 2)
            # fillPoly takes pixel centres; shift by half a pixel and use
            # 4 fractional bits so the drawn ellipse matches the annotation.
            pts = np.round((poly - 0.5) * 16).astype(np.int32)
            cv2.fillPoly(img, [pts], colour, lineType=cv2.LINE_8, shift=4)
        objects.append((cat, poly))
    return img, objects


def make_coco_style(root,
                    num_images: int = 4,
                    size: int = 64,
                    num_classes: int = 2,
                    seed: int = 0) -> str:
    """Write a COCO-format detection / instance segmentation dataset.

    Layout::

        root/train2017/000000000001.jpg ...
        root/val2017/000000000001.jpg ...
        root/annotations/instances_train2017.json
        root/annotations/instances_val2017.json

    Each split has ``num_images`` ``size`` x ``size`` images with one to three
    filled shapes. Category ``k`` (ids ``1..num_classes``) has its own colour;
    odd ids are axis-aligned rectangles, even ids ellipses. The files list
    COCO's 80 categories with their official ids and names (1 ``person``,
    2 ``bicycle``, ...), so stock mmdet configs and ``CocoMetric`` work
    unchanged; only the first ``num_classes`` occur. Every annotation has
    ``bbox`` ``[x, y, w, h]``, a polygon ``segmentation``, ``area`` (the
    polygon's area) and ``iscrowd=0``.

    Returns:
        str: ``root`` (absolute).
    """
    root = _check_root(root)
    _check_int('num_images', num_images, 1)
    _check_int('size', size, 16)
    _check_int('num_classes', num_classes, 1)
    if num_classes > 11:
        raise ValueError('num_classes must be <= 11 (COCO ids 1..11 are the '
                         f'contiguous ones), got {num_classes}')
    _check_int('seed', seed, 0)
    rng = np.random.default_rng(seed)
    categories = _coco_categories()
    for split in ('train2017', 'val2017'):
        images, annotations = [], []
        for image_id in range(1, num_images + 1):
            img, objects = _coco_image(size, num_classes, rng)
            file_name = f'{image_id:012d}.jpg'
            _imwrite(osp.join(root, split, file_name), img)
            images.append(
                dict(id=image_id, file_name=file_name, width=size,
                     height=size))
            for cat, poly in objects:
                x1, y1 = poly.min(axis=0)
                x2, y2 = poly.max(axis=0)
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=image_id,
                        category_id=cat,
                        bbox=[
                            round(float(x1), 2),
                            round(float(y1), 2),
                            round(float(x2 - x1), 2),
                            round(float(y2 - y1), 2)
                        ],
                        area=round(_polygon_area(poly), 2),
                        segmentation=[[round(float(v), 2)
                                       for v in poly.reshape(-1)]],
                        iscrowd=0))
        content = dict(
            info=dict(description='mmext smoke data (synthetic shapes)'),
            licenses=[],
            images=images,
            annotations=annotations,
            categories=categories)
        path = osp.join(root, 'annotations', f'instances_{split}.json')
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(content, f)
    return root


# -------------------------------------------------------- Kinetics layout
def _class_clip(label: int, num_classes: int, num_frames: int, size: int,
                rng: np.random.Generator) -> List[np.ndarray]:
    """Frames of a square moving in a class-dependent direction.

    The direction carries the label (so only a temporal model separates
    classes sharing a colour); the background colour carries it too, so a
    frame-level model such as TSN learns it quickly.
    """
    bg = np.array(_palette(num_classes)[label], dtype=np.float32) * 0.6
    angle = 2 * np.pi * label / num_classes
    side = max(4, size // 4)
    span = size - side
    start = rng.uniform(0, span, size=2)
    speed = span / max(num_frames - 1, 1) * 0.8
    frames = []
    for t in range(num_frames):
        frame = np.broadcast_to(bg, (size, size, 3)).copy()
        x, y = start + speed * t * np.array([np.cos(angle), np.sin(angle)])
        x, y = int(x % span), int(y % span)
        frame[y:y + side, x:x + side] = 255
        frame += rng.normal(0, 8, size=frame.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def _check_mp4_clips(num_frames: int, size: int, fps: int,
                     seed: int) -> None:
    """Check the clip arguments of the mp4 writers."""
    _check_int('num_frames', num_frames, 2)
    _check_int('size', size, 16)
    _check_int('fps', fps, 1)
    _check_int('seed', seed, 0)
    if size % 2:
        # MPEG-4 Part 2 (4:2:0) needs even frame sides.
        raise ValueError(f'size must be even for mp4v clips, got {size}')


def _write_mp4(path: str, frames: Sequence[np.ndarray], fps: int) -> None:
    cv2 = _cv2()
    os.makedirs(osp.dirname(path), exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (w, h))
    if not writer.isOpened():
        raise OSError(f'cv2.VideoWriter cannot open {path} with fourcc mp4v '
                      '(is OpenCV built with FFmpeg?)')
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()


def make_kinetics_style(root,
                        num_classes: int = 2,
                        train_per_class: int = 2,
                        val_per_class: int = 1,
                        num_frames: int = 16,
                        size: int = 32,
                        fps: int = 8,
                        seed: int = 0) -> str:
    """Write a Kinetics-400-style video dataset for mmaction2.

    Layout (that of ``data/kinetics400`` after ``tools/data/kinetics``)::

        root/videos_train/class_0/class_0_0000.mp4 ...
        root/videos_val/class_0/class_0_0000.mp4 ...
        root/kinetics400_train_list_videos.txt  # "class_0/class_0_0000.mp4 0"
        root/kinetics400_val_list_videos.txt
        root/label_map.txt                      # class names in label order

    Clips are MPEG-4 (fourcc ``mp4v``) written by ``cv2.VideoWriter``; decord
    (mmaction2's ``DecordInit``) reads exactly ``num_frames`` frames. Load with
    ``VideoDataset(ann_file=root + '/kinetics400_train_list_videos.txt',
    data_prefix=dict(video=root + '/videos_train'), pipeline=[...])``.

    Returns:
        str: ``root`` (absolute).
    """
    root = _check_root(root)
    _check_int('num_classes', num_classes, 2)
    _check_int('train_per_class', train_per_class, 1)
    _check_int('val_per_class', val_per_class, 1)
    _check_mp4_clips(num_frames, size, fps, seed)
    rng = np.random.default_rng(seed)
    width = len(str(num_classes - 1))
    classes = [f'class_{i:0{width}d}' for i in range(num_classes)]
    for split, per_class in (('train', train_per_class), ('val',
                                                          val_per_class)):
        lines = []
        for label, name in enumerate(classes):
            for k in range(per_class):
                rel = f'{name}/{name}_{k:04d}.mp4'
                frames = _class_clip(label, num_classes, num_frames, size, rng)
                _write_mp4(osp.join(root, f'videos_{split}', rel), frames, fps)
                lines.append(f'{rel} {label}')
        _write_lines(
            osp.join(root, f'kinetics400_{split}_list_videos.txt'), lines)
    _write_lines(osp.join(root, 'label_map.txt'), classes)
    return root


# ------------------------------------------------------------ Digits tree
def _digits_split(targets: np.ndarray, val_fraction: float,
                  seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Stratified split: per class, ``round(n_c * val_fraction)`` go to val.

    Returns sorted train and val index arrays. Each class's indices are
    shuffled by a generator seeded with ``(seed, class)``, so a class's split
    does not depend on the others.
    """
    train, val = [], []
    for c in np.unique(targets):
        idx = np.flatnonzero(targets == c)
        idx = np.random.default_rng([seed, int(c)]).permutation(idx)
        n_val = int(round(len(idx) * val_fraction))
        n_val = min(max(n_val, 1), len(idx) - 1)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def make_digits(root,
                val_fraction: float = 0.25,
                seed: int = 0,
                size: int = 32) -> str:
    """Write scikit-learn's handwritten digits as a CustomDataset tree.

    The 1,797 8x8 images of ``sklearn.datasets.load_digits`` (shipped with
    scikit-learn, no download) are upsampled to ``size`` x ``size`` (bicubic),
    scaled from 0..16 to 0..255 and saved as 3-channel PNGs (grey in all
    channels)::

        root/train/<digit>/<index>.png
        root/val/<digit>/<index>.png
        root/.complete   # parameters of the finished write, written last

    ``<index>`` is the sample's index in ``load_digits`` (4 digits). The split
    is stratified and deterministic given ``seed``. When ``root/.complete``
    holds the same parameters the call returns at once; otherwise the marker
    is removed first, ``train/`` and ``val/`` are rewritten from scratch, and
    the marker is written last, so an interrupted write is redone.

    Returns:
        str: ``root`` (absolute).
    """
    root = _check_root(root)
    if isinstance(val_fraction, bool) or not isinstance(
            val_fraction, (float, int, np.floating)):
        raise ValueError(
            f'val_fraction must be a number, got {val_fraction!r}')
    if not 0 < val_fraction < 1:
        raise ValueError(
            f'val_fraction must be in the open interval (0, 1), got '
            f'{val_fraction}')
    _check_int('seed', seed, 0)
    _check_int('size', size, 8)

    params = dict(
        format='mmext-digits-v1',
        val_fraction=float(val_fraction),
        seed=int(seed),
        size=int(size))
    marker = osp.join(root, '.complete')
    if osp.isfile(marker):
        try:
            with open(marker, encoding='utf-8') as f:
                if json.load(f) == params:
                    return root
        except (OSError, ValueError):
            pass  # unreadable marker: rewrite

    from sklearn.datasets import load_digits
    digits = load_digits()
    images, targets = digits.images, digits.target
    if len(images) != DIGITS_TOTAL:
        raise RuntimeError(
            f'load_digits returned {len(images)} images, expected '
            f'{DIGITS_TOTAL}')
    train_idx, val_idx = _digits_split(targets, float(val_fraction), seed)

    # Stale marker first, so a crash below never leaves a matching marker.
    if osp.lexists(marker):
        os.remove(marker)
    cv2 = _cv2()
    for split, indices in (('train', train_idx), ('val', val_idx)):
        split_dir = osp.join(root, split)
        if osp.isdir(split_dir):
            shutil.rmtree(split_dir)
        for i in indices:
            img = images[i].astype(np.float32) * (255.0 / 16.0)
            img = cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)
            img = np.clip(np.round(img), 0, 255).astype(np.uint8)
            _imwrite(
                osp.join(split_dir, str(int(targets[i])), f'{i:04d}.png'),
                np.repeat(img[..., None], 3, axis=2))
    tmp = marker + '.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(params, f)
    os.replace(tmp, marker)
    return root
