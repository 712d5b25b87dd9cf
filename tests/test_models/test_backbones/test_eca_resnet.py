import pytest
import torch
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from torch.nn.modules.batchnorm import _BatchNorm

import mmext  # noqa: F401  (registers ECAResNet)
from mmext.models.backbones import ECAResNet
from mmext.models.backbones.eca_resnet import ECABasicBlock, ECABottleneck
from mmext.models.plugins import ECALayer


def classifier_cfg(depth, **backbone_kwargs):
    return dict(
        type='ImageClassifier',
        backbone=dict(type='ECAResNet', depth=depth, **backbone_kwargs),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead',
            num_classes=1000,
            in_channels=512 if depth < 50 else 2048))


# The authors' models (and the README's ECA-R50 "80 parameters" for ECA).
@pytest.mark.parametrize('depth,num_params',
                         [(18, 11_689_556), (34, 21_797_744), (50, 25_557_112),
                          (101, 44_549_317), (152, 60_193_042)])
def test_parameter_count(depth, num_params):
    model = PRETRAIN_MODELS.build(classifier_cfg(depth))  # no forward
    assert sum(p.numel() for p in model.parameters()) == num_params


@pytest.mark.parametrize('depth,sizes',
                         [(18, (3, 5, 7, 7)), (34, (3, 3, 5, 7)),
                          (50, (3, 5, 5, 7)), (101, (3, 3, 5, 7)),
                          (152, (3, 3, 5, 7))])
def test_released_kernel_sizes(depth, sizes):
    model = ECAResNet(depth)
    assert model.eca_kernel_sizes == sizes
    block_type = ECABasicBlock if depth < 50 else ECABottleneck
    for stage, k in enumerate(sizes):
        layer = getattr(model, f'layer{stage + 1}')
        for block in layer:
            assert isinstance(block, block_type)
            assert block.eca.kernel_size == k
            assert block.eca.in_channels == block.out_channels


def test_adaptive_and_explicit_kernel_sizes():
    # Eq. (12), gamma=2, b=1: channels 256/512/1024/2048 -> 5/5/5/7
    assert ECAResNet(
        50, eca_kernel_sizes=None).eca_kernel_sizes == (5, 5, 5, 7)
    # channels 64/128/256/512 -> 3/5/5/5
    assert ECAResNet(
        18, eca_kernel_sizes=None).eca_kernel_sizes == (3, 5, 5, 5)
    # gamma=1, b=0: log2 C = 6, 7, 8, 9 -> 7, 7, 9, 9
    assert ECAResNet(
        18, eca_kernel_sizes=None, eca_gamma=1,
        eca_b=0).eca_kernel_sizes == (7, 7, 9, 9)
    assert ECAResNet(
        34, eca_kernel_sizes=[1, 3, 5, 9]).eca_kernel_sizes == (1, 3, 5, 9)
    assert ECAResNet(
        18, num_stages=2, strides=(1, 2), dilations=(1, 1),
        out_indices=(1, )).eca_kernel_sizes == (3, 5)


@pytest.mark.parametrize('bad,match', [((3, 4, 5, 7), 'kernel_size=4'),
                                       ((3, 5, 7), 'one size per stage'),
                                       ('paper', 'released'),
                                       ((3, 5, 7, 0), 'kernel_size=0')])
def test_bad_kernel_sizes(bad, match):
    with pytest.raises(ValueError, match=match):
        ECAResNet(18, eca_kernel_sizes=bad)


def test_bad_depth():
    with pytest.raises(ValueError, match='depth=26'):
        ECAResNet(26)


@pytest.mark.parametrize('depth', [18, 50])
def test_forward_shapes(depth):
    model = ECAResNet(depth, out_indices=(0, 1, 2, 3))
    model.init_weights()
    model.eval()
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    e = 1 if depth == 18 else 4
    assert [tuple(o.shape) for o in outs] == [(1, 64 * e, 16, 16),
                                              (1, 128 * e, 8, 8),
                                              (1, 256 * e, 4, 4),
                                              (1, 512 * e, 2, 2)]
    # default out_indices=(3, )
    model = ECAResNet(depth)
    assert model.eval() is model  # unlike mmpretrain's ResNet
    with torch.no_grad():
        outs = model(torch.randn(1, 3, 64, 64))
    assert len(outs) == 1 and outs[0].shape == (1, 512 * e, 2, 2)


def test_classifier_forward():
    model = PRETRAIN_MODELS.build(classifier_cfg(18))
    model.init_weights()
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 3, 64, 64), mode='tensor')
    assert logits.shape == (2, 1000)


@pytest.mark.parametrize('block_type', [ECABasicBlock, ECABottleneck])
def test_eca_after_last_norm_before_add(block_type):
    """ECA gets the last BN's output; the block returns relu(eca + id)."""
    torch.manual_seed(0)
    base = BasicBlock if block_type is ECABasicBlock else Bottleneck
    assert issubclass(block_type, base)
    block = block_type(16, 16, eca_kernel_size=3).eval()
    with torch.no_grad():
        for p in block.parameters():
            p.normal_()
    last_norm = block.norm2 if block_type is ECABasicBlock else block.norm3
    seen = {}
    last_norm.register_forward_hook(
        lambda m, i, o: seen.__setitem__('norm', o.clone()))
    block.eca.register_forward_hook(
        lambda m, i, o: seen.__setitem__('eca', (i[0].clone(), o.clone())))
    x = torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        out = block(x)
    eca_in, eca_out = seen['eca']
    torch.testing.assert_close(eca_in, seen['norm'])
    torch.testing.assert_close(out, torch.relu(eca_out + x))
    # and ECA really rescales: outputs differ from the plain block's
    plain = base(16, 16).eval()
    plain.load_state_dict({
        k: v
        for k, v in block.state_dict().items() if not k.startswith('eca.')
    })
    with torch.no_grad():
        assert not torch.allclose(plain(x), out)


def test_frozen_stages_and_norm_eval():
    model = ECAResNet(18, frozen_stages=2, norm_eval=True)
    model.train()
    for m in [model.conv1, model.norm1, model.layer1, model.layer2]:
        assert all(not p.requires_grad for p in m.parameters())
    assert not model.layer2[0].eca.conv.weight.requires_grad
    assert all(p.requires_grad for p in model.layer3.parameters())
    assert model.layer3[0].eca.conv.weight.requires_grad
    assert not model.layer1.training and model.layer3.training
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))


def test_pass_through_arguments():
    model = ECAResNet(
        18,
        deep_stem=True,
        avg_down=True,
        drop_path_rate=0.1,
        with_cp=True,
        norm_cfg=dict(type='GN', num_groups=8))
    assert hasattr(model, 'stem')
    block = model.layer2[0]
    assert isinstance(block.downsample[0], torch.nn.AvgPool2d)
    assert type(block.drop_path).__name__ == 'DropPath'
    assert isinstance(block.norm2, torch.nn.GroupNorm)
    assert block.with_cp
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    model(x)[0].sum().backward()
    assert model.layer1[0].eca.conv.weight.grad is not None


def test_registered_and_plugin_count():
    model = PRETRAIN_MODELS.build(dict(type='ECAResNet', depth=101))
    assert isinstance(model, ECAResNet)
    assert sum(isinstance(m, ECALayer)
               for m in model.modules()) == 3 + 4 + 23 + 3
