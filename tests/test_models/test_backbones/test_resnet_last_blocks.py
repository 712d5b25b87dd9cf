"""ResNetLastBlocks returns the last blocks' outputs of each stage, equal
to running mmdet's ResNet block by block."""
import pytest
import torch
from mmdet.models.backbones import ResNet

from mmext.models.backbones import ResNetLastBlocks


def test_outputs_are_the_last_blocks():
    kwargs = dict(
        depth=50, num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1),
        style='caffe')
    torch.manual_seed(0)
    model = ResNetLastBlocks(out_indices=(1, 2), num_last_blocks=2, **kwargs)
    model.init_weights()
    ref = ResNet(out_indices=(0, 1, 2), **kwargs)
    ref.load_state_dict(model.state_dict())
    model.eval(), ref.eval()
    x = torch.randn(1, 3, 64, 80)
    with torch.no_grad():
        outs = model(x)
        c2, c3, c4 = ref(x)
        # res3b2 = the third of layer2's four blocks; res4b21 likewise
        res3b2 = torch.nn.Sequential(*list(ref.layer2)[:-1])(c2)
        res4b21 = torch.nn.Sequential(*list(ref.layer3)[:-1])(c3)
    assert len(outs) == 4
    for got, want in zip(outs, (res3b2, c3, res4b21, c4)):
        torch.testing.assert_close(got, want)
    assert outs[0].shape == (1, 512, 8, 10)
    assert outs[2].shape == (1, 1024, 4, 5)


def test_too_many_blocks():
    with pytest.raises(ValueError, match='num_last_blocks'):
        ResNetLastBlocks(depth=50, out_indices=(0, ), num_last_blocks=4)
