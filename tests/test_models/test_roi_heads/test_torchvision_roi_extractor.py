"""TorchvisionRoIExtractor: Caffe's RoI max pooling on CPU, against a slow
loop over the Fast R-CNN definition."""
import math

import pytest
import torch

from mmext.models.roi_heads import TorchvisionRoIExtractor


def _caffe_roi_pool(feat, roi, size, scale):
    """Fast R-CNN's roi_pooling_layer.cpp, one RoI."""
    _, x1, y1, x2, y2 = roi.tolist()
    c, h, w = feat.shape[1:]
    sx, sy = round(x1 * scale), round(y1 * scale)
    ex, ey = round(x2 * scale), round(y2 * scale)
    rh, rw = max(ey - sy + 1, 1), max(ex - sx + 1, 1)
    bh, bw = rh / size, rw / size
    out = torch.zeros(c, size, size)
    for i in range(size):
        for j in range(size):
            hs = min(max(math.floor(i * bh) + sy, 0), h)
            he = min(max(math.ceil((i + 1) * bh) + sy, 0), h)
            ws = min(max(math.floor(j * bw) + sx, 0), w)
            we = min(max(math.ceil((j + 1) * bw) + sx, 0), w)
            if he > hs and we > ws:
                out[:, i, j] = feat[0, :, hs:he, ws:we].amax((1, 2))
    return out


def test_roi_pool_matches_caffe_definition():
    ext = TorchvisionRoIExtractor(
        roi_layer=dict(type='RoIPool', output_size=3), out_channels=4,
        featmap_strides=[16])
    torch.manual_seed(0)
    feat = torch.randn(1, 4, 12, 15)
    rois = torch.tensor([[0, 10., 20., 150., 100.], [0, 0., 0., 239., 191.],
                         [0, 33., 47., 60., 70.]])
    out = ext((feat, ), rois)
    assert out.shape == (3, 4, 3, 3)
    for k in range(3):
        torch.testing.assert_close(out[k],
                                   _caffe_roi_pool(feat, rois[k], 3, 1 / 16))


def test_unknown_layer():
    with pytest.raises(ValueError, match='roi_layer.type'):
        TorchvisionRoIExtractor(
            roi_layer=dict(type='RoIPooling', output_size=7),
            out_channels=4, featmap_strides=[16])
