"""ConvConnector: shapes, and ``init_cfg`` is not undone by ConvModule."""
import pytest
import torch

from mmext.models.distillers import ConvConnector


@pytest.mark.parametrize('stride,size', [(1, 8), (2, 4)])
def test_shapes_and_params(stride, size):
    m = ConvConnector(16, 32, kernel_size=3, stride=stride)
    assert m(torch.randn(2, 16, 8, 8)).shape == (2, 32, size, size)
    # conv without bias (a norm follows) + BN affine
    assert sum(p.numel() for p in m.parameters()) == 16 * 32 * 9 + 2 * 32


def test_init_cfg_takes_effect():
    m = ConvConnector(
        4, 6, init_cfg=dict(type='Constant', val=0.5, layer='Conv2d'))
    m.init_weights()
    assert torch.all(m.conv.conv.weight == 0.5)


def test_default_init_is_convmodules():
    torch.manual_seed(0)
    m = ConvConnector(64, 64)
    m.init_weights()
    w = m.conv.conv.weight
    # Kaiming normal for ReLU (fan_out): std = sqrt(2 / (64 * 1 * 1))
    assert abs(w.std().item() - (2 / 64)**0.5) < 0.02
    assert torch.all(m.conv.bn.weight == 1) and torch.all(m.conv.bn.bias == 0)
