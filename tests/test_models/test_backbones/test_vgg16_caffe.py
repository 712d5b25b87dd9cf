"""VGG16Caffe against torchvision's VGG16 with the same weights, Caffe's
ceil-mode pooling sizes, frozen stages and bad input."""
import pytest
import torch
import torch.nn.functional as F
import torchvision

from mmext.models.backbones import VGG16Caffe


def test_matches_torchvision_with_its_weights():
    torch.manual_seed(0)
    full = torchvision.models.vgg16()
    tv = full.features.eval()
    model = VGG16Caffe(out_layers=('conv3_1', 'conv4_3', 'conv5_3')).eval()
    # torchvision's checkpoint keys ('features.0.weight', ...) load by name
    result = model.load_state_dict(full.state_dict(), strict=False)
    assert not result.missing_keys
    x = torch.randn(1, 3, 64, 96)  # divisible by 16: floor == ceil pooling
    with torch.no_grad():
        conv3_1, conv4_3, conv5_3 = model(x)
        torch.testing.assert_close(conv3_1, tv[:12](x))
        torch.testing.assert_close(conv4_3, tv[:23](x))
        torch.testing.assert_close(conv5_3, tv[:30](x))


def test_caffe_ceil_mode_sizes():
    model = VGG16Caffe()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 600, 1000))
    assert [tuple(o.shape) for o in outs] == [(1, 512, 75, 125)] * 2 + [
        (1, 512, 38, 63)
    ] * 2
    # py-faster-rcnn's pooling: ceil, as F.max_pool2d(ceil_mode=True)
    x = torch.randn(1, 512, 75, 125)
    assert F.max_pool2d(x, 2, 2, ceil_mode=True).shape[-2:] == (38, 63)


def test_frozen_stages_and_unbuilt_layers():
    model = VGG16Caffe(out_layers=('conv4_3', ), frozen_stages=2)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {
        f'features.{i}.{k}'
        for i in (0, 2, 5, 7) for k in ('weight', 'bias')
    }
    # nothing after conv4_3 (+ ReLU) is built
    assert len(model.features) == 23
    assert sum(p.numel() for p in VGG16Caffe().parameters()) == 14714688


@pytest.mark.parametrize('kwargs, key', [(dict(out_layers=('conv6_1', )),
                                          'out_layers'),
                                         (dict(out_layers=()), 'out_layers'),
                                         (dict(frozen_stages=6),
                                          'frozen_stages')])
def test_bad_arguments(kwargs, key):
    with pytest.raises(ValueError, match=key):
        VGG16Caffe(**kwargs)
