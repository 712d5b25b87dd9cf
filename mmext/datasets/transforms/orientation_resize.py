"""Resize to a fixed size along the image's orientation (MLKP's input)."""
from mmdet.datasets.transforms import Resize

from mmext.registry import TRANSFORMS
from mmext.utils.validation import check_arg


@TRANSFORMS.register_module()
class OrientationResize(Resize):
    """Warp every image to exactly ``scale = (long, short)``: landscape
    images (width >= height) to ``long x short`` (width x height), portrait
    images to ``short x long``. The aspect ratio is not kept.

    This is the input of MLKP's released code (every image becomes 1000 x
    600 or 600 x 1000, the sizes its Caffe ``Crop`` layer accepts). Boxes,
    masks and ``scale_factor`` follow as in mmdet's ``Resize``; the other
    arguments are ``Resize``'s (``keep_ratio`` is always False).

    Args:
        scale: ``(long, short)`` side lengths in pixels.
    """

    def __init__(self, scale, **kwargs) -> None:
        check_arg(self, 'scale', scale, (tuple, list))
        if len(scale) != 2 or not all(
                isinstance(s, int) and s > 0 for s in scale) or \
                scale[0] < scale[1]:
            raise ValueError('OrientationResize: scale must be (long, short) '
                             f'positive ints with long >= short, got {scale}')
        if kwargs.pop('keep_ratio', False):
            raise ValueError('OrientationResize never keeps the aspect ratio '
                             '(keep_ratio must be False)')
        super().__init__(scale=tuple(scale), keep_ratio=False, **kwargs)
        self.long_short = tuple(scale)

    def transform(self, results: dict) -> dict:
        long, short = self.long_short
        h, w = results['img'].shape[:2]
        self.scale = (long, short) if w >= h else (short, long)
        return super().transform(results)
