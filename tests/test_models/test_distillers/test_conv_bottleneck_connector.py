"""ConvBottleneckConnector against a re-creation of the authors'
``ConvRegBottleNeck`` (JiamingLv/WKD, ``mdistiller/distillers/_common.py``,
same-size branch, ``c_hidden=256``, ``use_relu=use_bn=True``)."""
import pytest
import torch
from torch import nn

import mmext  # noqa: F401
from mmext.models.distillers import ConvBottleneckConnector
from mmext.registry import MODELS


class AuthorsBottleneck(nn.Module):
    """The authors' layout, written out in plain torch."""

    def __init__(self, s_c: int, t_c: int, c_hidden: int = 256) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(s_c, c_hidden, kernel_size=1)
        self.conv2 = nn.Conv2d(c_hidden, c_hidden, 3, stride=1, padding=1)
        self.conv3 = nn.Conv2d(c_hidden, t_c, kernel_size=1)
        self.bn = nn.BatchNorm2d(t_c)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv3(self.conv2(self.conv1(x)))))


def copy_from_authors(ours, ref):
    mapping = {
        'conv1': ref.conv1,
        'conv2': ref.conv2,
        'conv3': ref.conv3,
        'norm': ref.bn
    }
    state = {
        f'{prefix}.{k}': v
        for prefix, module in mapping.items()
        for k, v in module.state_dict().items()
    }
    ours.load_state_dict(state, strict=True)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


# (student channels, teacher channels, parameters): ResNet-18 -> ResNet-34
# and MobileNetV1 -> ResNet-50 last-stage maps
@pytest.mark.parametrize('s_c,t_c,expected', [(512, 512, 854016),
                                              (1024, 2048, 1382912)])
def test_parameter_count(s_c, t_c, expected):
    ours = MODELS.build(
        dict(type='ConvBottleneckConnector', in_channels=s_c,
             out_channels=t_c))
    assert n_params(ours) == expected
    assert n_params(AuthorsBottleneck(s_c, t_c)) == expected


def test_matches_authors_module():
    torch.manual_seed(0)
    ref = AuthorsBottleneck(24, 40, c_hidden=16)
    with torch.no_grad():  # non-trivial BN state
        ref.bn.weight.uniform_(0.5, 1.5)
        ref.bn.bias.uniform_(-0.5, 0.5)
        ref.bn.running_mean.uniform_(-0.2, 0.2)
        ref.bn.running_var.uniform_(0.5, 2.0)
    ours = ConvBottleneckConnector(24, 40, hidden_channels=16)
    copy_from_authors(ours, ref)
    x = torch.randn(3, 24, 5, 6)
    for mode in (False, True):  # running statistics, then batch statistics
        ours.train(mode)
        ref.train(mode)
        out, ref_out = ours(x), ref(x)
        torch.testing.assert_close(out, ref_out)
        assert out.shape == (3, 40, 5, 6)
    torch.testing.assert_close(ours.norm.running_mean, ref.bn.running_mean)
    (out * x.new_tensor(range(40)).view(1, -1, 1, 1)).sum().backward()
    (ref_out * x.new_tensor(range(40)).view(1, -1, 1, 1)).sum().backward()
    for name in ('conv1', 'conv2', 'conv3'):
        torch.testing.assert_close(
            getattr(ours, name).weight.grad,
            getattr(ref, name).weight.grad)


def test_default_init_is_pytorchs_like_the_authors():
    torch.manual_seed(1)
    ref = AuthorsBottleneck(6, 10, c_hidden=8)
    torch.manual_seed(1)
    ours = ConvBottleneckConnector(6, 10, hidden_channels=8)
    ours.init_weights()
    for name in ('conv1', 'conv2', 'conv3'):
        torch.testing.assert_close(
            getattr(ours, name).weight,
            getattr(ref, name).weight)
        torch.testing.assert_close(
            getattr(ours, name).bias,
            getattr(ref, name).bias)


def test_without_norm_and_activation_is_linear():
    ours = ConvBottleneckConnector(4,
                                   6,
                                   hidden_channels=5,
                                   norm_cfg=None,
                                   act_cfg=None)
    assert n_params(ours) == (4 * 5 + 5) + (9 * 5 * 5 + 5) + (5 * 6 + 6)
    x, y = torch.randn(2, 4, 3, 3), torch.randn(2, 4, 3, 3)
    zero = ours(torch.zeros(2, 4, 3, 3))
    # affine map: f(x + y) - f(0) == (f(x) - f(0)) + (f(y) - f(0))
    torch.testing.assert_close(
        ours(x + y) - zero, (ours(x) - zero) + (ours(y) - zero))


def test_init_cfg():
    ours = ConvBottleneckConnector(8,
                                   8,
                                   hidden_channels=4,
                                   init_cfg=dict(type='Constant',
                                                 layer='Conv2d',
                                                 val=0.5,
                                                 bias=0.25))
    ours.init_weights()
    for name in ('conv1', 'conv2', 'conv3'):
        conv = getattr(ours, name)
        assert torch.all(conv.weight == 0.5)
        assert torch.all(conv.bias == 0.25)
