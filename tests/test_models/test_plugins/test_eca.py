import math

import pytest
import torch

import mmext  # noqa: F401  (registers ECALayer)
from mmext.models.plugins import ECALayer
from mmext.models.plugins.eca import eca_kernel_size


def slow_eca(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """ECA by hand: per-channel mean, zero-padded 1-D correlation over the
    channel index, logistic function, rescale. Loops over n and c."""
    n_, c_ = x.shape[:2]
    k = weight.numel()
    pad = (k - 1) // 2
    w = weight.flatten().tolist()
    out = torch.empty_like(x)
    for n in range(n_):
        means = [x[n, c].sum().item() / x[n, c].numel() for c in range(c_)]
        for c in range(c_):
            s = 0.0
            for j in range(k):
                src = c + j - pad
                if 0 <= src < c_:
                    s += w[j] * means[src]
            out[n, c] = x[n, c] * (1.0 / (1.0 + math.exp(-s)))
    return out


@pytest.mark.parametrize('channels,k', [(7, 3), (16, 5), (5, 7), (12, 1)])
def test_eca_matches_slow_reference(channels, k):
    torch.manual_seed(0)
    layer = ECALayer(channels, kernel_size=k).double()
    with torch.no_grad():
        layer.conv.weight.normal_(0, 1.0)
    x = torch.randn(2, channels, 3, 5, dtype=torch.float64)
    out = layer(x)
    assert out.shape == x.shape
    torch.testing.assert_close(
        out, slow_eca(x, layer.conv.weight.detach()), rtol=1e-10, atol=1e-10)


def test_eca_structure_and_gradients():
    layer = ECALayer(64, kernel_size=5)
    assert layer.kernel_size == 5
    assert layer.conv.weight.shape == (1, 1, 5)
    assert layer.conv.bias is None
    assert layer.conv.padding == (2, )
    # k parameters in all: no dimensionality reduction, no bias
    assert sum(p.numel() for p in layer.parameters()) == 5
    x = torch.randn(2, 64, 4, 4, requires_grad=True)
    layer(x).sum().backward()
    assert layer.conv.weight.grad is not None
    assert x.grad.shape == x.shape


# Expected values computed by hand from t = int(|(log2 C + b) / gamma|),
# k = t if t is odd else t + 1.
@pytest.mark.parametrize(
    'channels,gamma,b,expected',
    [
        (1, 2, 1, 1),  # (0 + 1) / 2 = 0.5 -> 0 -> 1
        (2, 2, 1, 1),  # (1 + 1) / 2 = 1
        (16, 2, 1, 3),  # 2.5 -> 2 -> 3
        (24, 2, 1, 3),  # (4.585 + 1) / 2 = 2.79 -> 2 -> 3
        (64, 2, 1, 3),  # 3.5 -> 3
        (96, 2, 1, 3),  # (6.585 + 1) / 2 = 3.79 -> 3
        (128, 2, 1, 5),  # 4 -> 5
        (160, 2, 1, 5),  # (7.32 + 1) / 2 = 4.16 -> 4 -> 5
        (256, 2, 1, 5),  # 4.5 -> 4 -> 5
        (512, 2, 1, 5),  # 5
        (1024, 2, 1, 5),  # 5.5 -> 5
        (2048, 2, 1, 7),  # 6 -> 7
        (4096, 2, 1, 7),  # 6.5 -> 6 -> 7
        (256, 3, 1, 3),  # 9 / 3 = 3
        (256, 1, 0, 9),  # 8 -> 9
    ])
def test_adaptive_kernel_size(channels, gamma, b, expected):
    assert eca_kernel_size(channels, gamma, b) == expected
    layer = ECALayer(channels, gamma=gamma, b=b)
    assert layer.kernel_size == expected
    assert layer.conv.weight.shape == (1, 1, expected)


@pytest.mark.parametrize('bad', [0, -3, 2, 4, 3.0, '3', True])
def test_bad_kernel_size(bad):
    with pytest.raises(ValueError, match='kernel_size') as excinfo:
        ECALayer(8, kernel_size=bad)
    assert f'kernel_size={bad!r}' in str(excinfo.value)


@pytest.mark.parametrize('bad', [0, -1, 8.0])
def test_bad_in_channels(bad):
    with pytest.raises(ValueError, match='in_channels'):
        ECALayer(bad)


@pytest.mark.parametrize('shape', [(2, 16, 4, 4), (8, 4, 4), (2, 8, 4, 4, 1)])
def test_bad_input_shape(shape):
    layer = ECALayer(8, kernel_size=3)
    with pytest.raises(ValueError, match=r'\(N, 8, H, W\)'):
        layer(torch.randn(*shape))


def test_build_from_registry_and_plugin_builder():
    from mmcv.cnn import build_plugin_layer

    from mmext.registry import MODELS
    layer = MODELS.build(dict(type='ECALayer', in_channels=32))
    assert isinstance(layer, ECALayer) and layer.kernel_size == 3
    name, layer = build_plugin_layer(
        dict(type='ECALayer', kernel_size=5), in_channels=32, postfix='_x')
    assert name == 'eca_layer_x'
    assert isinstance(layer, ECALayer) and layer.kernel_size == 5


def test_plugin_in_mmdet_resnet():
    from mmdet.models.backbones import ResNet
    model = ResNet(
        depth=50,
        out_indices=(0, 1, 2, 3),
        plugins=[
            dict(
                cfg=dict(type='ECALayer', kernel_size=3),
                position='after_conv3')
        ])
    eca = [m for m in model.modules() if isinstance(m, ECALayer)]
    assert len(eca) == 3 + 4 + 6 + 3
    block = model.layer2[0]
    assert block.after_conv3_plugin_names == ['eca_layer']
    assert block.eca_layer.in_channels == 512
    assert block.eca_layer.kernel_size == 3
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 256, 16, 16), (1, 512, 8, 8),
                                              (1, 1024, 4, 4), (1, 2048, 2, 2)]
