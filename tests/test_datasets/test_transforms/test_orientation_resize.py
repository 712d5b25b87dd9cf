"""OrientationResize warps to (long, short) along the image's orientation
and scales boxes by the per-axis factors."""
import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes

from mmext.datasets import OrientationResize


def _results(h: int, w: int) -> dict:
    boxes = HorizontalBoxes(np.array([[10., 20., 30., 40.]], np.float32))
    return dict(
        img=np.zeros((h, w, 3), np.uint8), img_shape=(h, w),
        gt_bboxes=boxes)


@pytest.mark.parametrize('h, w, want_hw', [(375, 500, (600, 1000)),
                                           (500, 375, (1000, 600)),
                                           (400, 400, (600, 1000))])
def test_orientation(h, w, want_hw):
    out = OrientationResize(scale=(1000, 600)).transform(_results(h, w))
    assert out['img'].shape[:2] == want_hw
    sy, sx = want_hw[0] / h, want_hw[1] / w
    np.testing.assert_allclose(out['scale_factor'], (sx, sy), rtol=1e-6)
    np.testing.assert_allclose(
        out['gt_bboxes'].tensor.numpy(),
        [[10 * sx, 20 * sy, 30 * sx, 40 * sy]], rtol=1e-5)


@pytest.mark.parametrize('kwargs', [dict(scale=(600, 1000)),
                                    dict(scale=(1000, )),
                                    dict(scale=(1000, 600), keep_ratio=True)])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError, match='OrientationResize'):
        OrientationResize(**kwargs)
