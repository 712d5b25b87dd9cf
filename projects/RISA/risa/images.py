"""Images of the project: scikit-image's sample images as content and style
references, random crops of them, and reading/writing image files."""
import functools
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
import torch
from mmengine.registry import DATASETS
from torch.utils.data import Dataset

from mmext.utils import require

PURPOSE = 'projects/RISA'


def load_sample_images(names: Sequence[str],
                       short_side: int) -> List[np.ndarray]:
    """scikit-image's sample images (``skimage.data.<name>()``) as RGB.

    Grey images are repeated over three channels and RGBA ones lose their
    alpha; each is resized so that its shorter side is ``short_side``
    pixels (the sample images are 100-1400 px, far larger than the crops
    the project trains on). Loaded once per process and read-only.

    Returns:
        list[np.ndarray]: ``(H, W, 3)`` float32 images in ``[0, 1]``.
    """
    return [_sample_image(name, short_side) for name in names]


@functools.lru_cache(maxsize=None)
def _sample_image(name: str, short_side: int) -> np.ndarray:
    data = require('skimage.data', 'scikit-image', PURPOSE)
    color = require('skimage.color', 'scikit-image', PURPOSE)
    transform = require('skimage.transform', 'scikit-image', PURPOSE)
    util = require('skimage.util', 'scikit-image', PURPOSE)
    loader = getattr(data, name, None)
    if loader is None or not callable(loader):
        raise ValueError(f'{PURPOSE}: skimage.data has no sample image '
                         f'{name!r}')
    img = util.img_as_float32(loader())
    if img.ndim == 2:
        img = color.gray2rgb(img)
    elif img.shape[-1] == 4:
        img = color.rgba2rgb(img)
    scale = short_side / min(img.shape[:2])
    size = [max(short_side, round(s * scale)) for s in img.shape[:2]]
    img = transform.resize(img, size, anti_aliasing=True).astype(np.float32)
    img.flags.writeable = False
    return img


def random_crop(img: np.ndarray, size: int,
                rng: np.random.Generator) -> torch.Tensor:
    """A ``(3, size, size)`` crop of an ``(H, W, 3)`` image, at a uniformly
    random position."""
    top = rng.integers(img.shape[0] - size + 1)
    left = rng.integers(img.shape[1] - size + 1)
    crop = img[top:top + size, left:left + size]
    return torch.from_numpy(np.ascontiguousarray(crop.transpose(2, 0, 1)))


class SeededCrops(Dataset):
    """Random crops whose item ``i`` depends only on ``seed`` and ``i``
    (drawn from ``np.random.default_rng([seed, i])``): reproducible
    whatever the order or the worker that reads them.

    Args:
        crop_size (int): Side of the square crops.
        short_side (int): Shorter side of the images they are cut from.
        length (int): Number of items.
        seed (int): Seed of the crops.
    """

    def __init__(self, crop_size: int, short_side: int, length: int,
                 seed: int) -> None:
        if crop_size > short_side:
            raise ValueError(f'{PURPOSE}: crop_size={crop_size} is larger '
                             f'than short_side={short_side}')
        self.crop_size = crop_size
        self.length = length
        self.seed = seed

    def __len__(self) -> int:
        return self.length

    def rng(self, idx: int) -> np.random.Generator:
        """The generator of item ``idx``."""
        return np.random.default_rng([self.seed, idx])


@DATASETS.register_module()
class SkimagePairs(SeededCrops):
    """Random (content, style) crop pairs of scikit-image's sample images.

    A fixed set of (source, reference) pairs is ``[SkimagePairs(...,
    seed=s)[i] for i in range(n)]`` (:class:`SeededCrops`).

    Args:
        content (Sequence[str]): ``skimage.data`` names of content images.
        style (Sequence[str]): Names of style (reference) images.
        crop_size (int): Side of the square crops. Defaults to 32.
        short_side (int): Shorter side of the images before cropping.
            Defaults to 96.
        length (int): Number of items. Defaults to 10000.
        seed (int): Seed of the crops. Defaults to 0.

    Items:
        dict: ``content`` and ``style``, ``(3, crop_size, crop_size)``
        float tensors in ``[0, 1]``.
    """

    def __init__(self,
                 content: Sequence[str],
                 style: Sequence[str],
                 crop_size: int = 32,
                 short_side: int = 96,
                 length: int = 10000,
                 seed: int = 0) -> None:
        super().__init__(crop_size, short_side, length, seed)
        self.content = load_sample_images(content, short_side)
        self.style = load_sample_images(style, short_side)

    def __getitem__(self, idx: int) -> Dict[str, torch.Tensor]:
        rng = self.rng(idx)
        content = self.content[rng.integers(len(self.content))]
        style = self.style[rng.integers(len(self.style))]
        return dict(content=random_crop(content, self.crop_size, rng),
                    style=random_crop(style, self.crop_size, rng))


@DATASETS.register_module()
class SkimageCrops(SeededCrops):
    """Random crops of scikit-image's sample images labelled by the image
    they come from: the training data of the feature network of the
    Fréchet distance.

    Args:
        names (Sequence[str]): ``skimage.data`` names (class ``k`` is
            ``names[k]``).
        crop_size (int): Side of the square crops. Defaults to 32.
        short_side (int): Shorter side of the images before cropping.
            Defaults to 96.
        length (int): Number of items. Defaults to 10000.
        seed (int): Seed of the crops. Defaults to 0.

    Items:
        dict: ``image``, a ``(3, crop_size, crop_size)`` float tensor in
        ``[0, 1]``, and ``label``, the image's index.
    """

    def __init__(self,
                 names: Sequence[str],
                 crop_size: int = 32,
                 short_side: int = 96,
                 length: int = 10000,
                 seed: int = 0) -> None:
        super().__init__(crop_size, short_side, length, seed)
        self.images = load_sample_images(names, short_side)

    def __getitem__(self, idx: int) -> Dict[str, torch.Tensor]:
        rng = self.rng(idx)
        label = int(rng.integers(len(self.images)))
        return dict(image=random_crop(self.images[label], self.crop_size,
                                      rng),
                    label=torch.tensor(label))


def read_image(path: str) -> np.ndarray:
    """An image file as ``(H, W, 3)`` uint8 RGB (grey is repeated, alpha
    dropped); stops with the file's name if it cannot be read."""
    iio = require('imageio.v3', 'imageio', PURPOSE)
    try:
        img = np.asarray(iio.imread(path))
    except Exception as err:
        raise ValueError(f'{PURPOSE}: cannot read the image {path!r} '
                         f'({type(err).__name__}: {err})') from err
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (
            img.ndim == 3 and img.shape[-1] not in (1, 3, 4)):
        raise ValueError(f'{PURPOSE}: {path!r} is not an 8-bit grey, RGB or '
                         f'RGBA image (dtype {img.dtype}, shape {img.shape})')
    if img.ndim == 2:
        img = img[..., None]
    return np.ascontiguousarray(np.broadcast_to(
        img[..., :3], img.shape[:2] + (3, )))


def write_image(path: str, img: np.ndarray) -> None:
    """Write an ``(H, W, 3)`` uint8 image (format from the extension)."""
    iio = require('imageio.v3', 'imageio', PURPOSE)
    iio.imwrite(path, img)


def image_files(folder: str) -> List[str]:
    """Sorted names of the ``.png``/``.jpg``/``.jpeg``/``.bmp`` files of a
    folder; stops naming the folder if it is missing, cannot be listed or
    has none."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'{PURPOSE}: no image folder {folder!r}')
    try:
        entries = os.listdir(folder)
    except OSError as err:
        raise ValueError(f'{PURPOSE}: cannot read the image folder '
                         f'{folder!r} ({err})') from err
    names = sorted(n for n in entries
                   if n.lower().endswith(('.png', '.jpg', '.jpeg', '.bmp')))
    if not names:
        raise ValueError(f'{PURPOSE}: the folder {folder!r} has no images '
                         '(expected .png, .jpg, .jpeg or .bmp files)')
    return names
