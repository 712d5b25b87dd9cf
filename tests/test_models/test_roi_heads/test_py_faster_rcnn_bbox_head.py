"""py-faster-rcnn box heads: 4 * (num_classes + 1) regression outputs of
which the background's are dropped, dropout after fc6/fc7, and the
parameter counts of the Caffe heads."""
import pytest
import torch
from mmengine.registry import DefaultScope

from mmext.models.roi_heads import (PyFasterRCNNBBoxHead,
                                    PyFasterRCNNShared2FCBBoxHead)


@pytest.fixture(autouse=True)
def mmdet_scope():
    """Box coders and losses come from mmdet's registries."""
    with DefaultScope.overwrite_default_scope('mmdet'):
        yield


def test_vgg16_head_counts_and_outputs():
    head = PyFasterRCNNShared2FCBBoxHead(
        in_channels=512, fc_out_channels=4096, roi_feat_size=7,
        num_classes=20)
    # fc6 25088x4096, fc7 4096x4096, cls 4096x21, bbox 4096x84 (+ biases)
    assert sum(p.numel() for p in head.parameters()) == (
        25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 21 + 21 +
        4096 * 84 + 84)
    assert head.fc_reg.out_features == 84
    head.eval()
    x = torch.randn(3, 512, 7, 7)
    cls, reg = head(x)
    assert cls.shape == (3, 21) and reg.shape == (3, 80)
    with torch.no_grad():
        h = x.flatten(1)
        for fc in head.shared_fcs:
            h = torch.relu(fc(h))
        torch.testing.assert_close(reg, head.fc_reg(h)[:, :80])
        torch.testing.assert_close(cls, head.fc_cls(h))


def test_dropout_in_training_only():
    head = PyFasterRCNNShared2FCBBoxHead(
        in_channels=4, fc_out_channels=64, roi_feat_size=2, num_classes=3,
        dropout_ratio=0.5)
    x = torch.randn(5, 4, 2, 2)
    head.train()
    torch.manual_seed(0)
    a = head(x)[0]
    torch.manual_seed(1)
    b = head(x)[0]
    assert not torch.allclose(a, b)
    head.eval()
    torch.testing.assert_close(head(x)[0], head(x)[0])


def test_c4_head():
    head = PyFasterRCNNBBoxHead(
        with_avg_pool=True, roi_feat_size=7, in_channels=2048,
        num_classes=20)
    assert sum(p.numel() for p in head.parameters()) == 2048 * 21 + 21 + \
        2048 * 84 + 84
    x = torch.randn(2, 2048, 7, 7)
    cls, reg = head(x)
    assert reg.shape == (2, 80) and reg.is_contiguous()
    torch.testing.assert_close(reg, head.fc_reg(x.mean((2, 3)))[:, :80])


def test_class_agnostic_refused():
    with pytest.raises(ValueError, match='reg_class_agnostic'):
        PyFasterRCNNBBoxHead(reg_class_agnostic=True)


def test_bad_dropout():
    with pytest.raises(ValueError, match='dropout_ratio'):
        PyFasterRCNNShared2FCBBoxHead(dropout_ratio=1.5)
