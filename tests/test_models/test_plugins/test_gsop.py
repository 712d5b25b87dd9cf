"""GSoP channel / position blocks against a hand-written forward that uses
torch.cov per sample, and as mmcv plugins in mmdet's ResNet."""
import pytest
import torch
import torch.nn.functional as F
from mmdet.registry import MODELS as DET_MODELS

import mmext  # noqa: F401
from mmext.models.plugins import GSoPChannelBlock, GSoPPositionBlock


def _row_head(head, cov):
    # BN (eval) over rows, then row i of the covariance -> 4 outputs.
    bn = head.row_norm
    cov = (cov - bn.running_mean[None, :, None]) / torch.sqrt(
        bn.running_var[None, :, None] + bn.eps)
    cov = cov * bn.weight[None, :, None] + bn.bias[None, :, None]
    w = head.row_conv.weight[:, 0, :, 0]  # (4d, d): filter k reads row k//4
    rows = cov.repeat_interleave(4, dim=1)  # (N, 4d, d)
    out = (rows * w[None]).sum(-1) + head.row_conv.bias
    if isinstance(head.mid_act, torch.nn.ReLU):
        out = out.relu()
    return out @ head.fc.weight[:, :, 0, 0].t() + head.fc.bias


def _bn_eval(bn, x):
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight,
                        bn.bias, False, 0.0, bn.eps)


def _randomize(module):
    torch.manual_seed(0)
    for m in module.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return module.eval()


def test_channel_block_matches_manual():
    block = _randomize(GSoPChannelBlock(16, reduced_channels=8, stride=2))
    x = torch.randn(2, 16, 6, 6)
    r = _bn_eval(block.reduce_norm, block.reduce_conv(x.relu())).relu()
    cov = torch.stack(
        [torch.cov(r[i].flatten(1), correction=0) for i in range(2)])
    att = _row_head(block.head, cov).sigmoid()
    with torch.no_grad():
        torch.testing.assert_close(
            block(x), x * att[:, :, None, None], rtol=1e-4, atol=1e-5)


def test_position_block_matches_manual():
    block = _randomize(GSoPPositionBlock(16, reduced_channels=8, pool_size=4))
    x = torch.randn(2, 16, 12, 12)
    r = _bn_eval(block.reduce_norm, block.reduce_conv(x.relu()))
    r = F.adaptive_avg_pool2d(r, 4).flatten(2)  # (N, d, 16)
    cov = torch.stack([torch.cov(r[i].t(), correction=0) for i in range(2)])
    att = _row_head(block.head, cov).sigmoid().view(2, 1, 4, 4)
    # 12 / 4 = 3: adaptive pooling back to 12 x 12 repeats each cell 3x3.
    att = att.repeat_interleave(3, 2).repeat_interleave(3, 3)
    with torch.no_grad():
        torch.testing.assert_close(
            block(x), (x * att).relu(), rtol=1e-4, atol=1e-5)


def test_blocks_gradients_and_errors():
    for block in (GSoPChannelBlock(8, 4), GSoPPositionBlock(8, 4, 2)):
        x = torch.randn(2, 8, 5, 5, requires_grad=True)
        block(x).sum().backward()
        assert torch.isfinite(x.grad).all()
        assert block.head.row_conv.weight.grad.abs().sum() > 0
        with pytest.raises(ValueError, match='expects input'):
            block(torch.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match='reduced_channels'):
        GSoPChannelBlock(8, 0)


def test_plugin_in_mmdet_resnet():
    backbone = DET_MODELS.build(
        dict(
            type='mmdet.ResNet',
            depth=50,
            plugins=[
                dict(
                    cfg=dict(type='GSoPChannelBlock', reduced_channels=16),
                    stages=(False, False, True, True),
                    position='after_conv3')
            ]))
    outs = backbone(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [256, 512, 1024, 2048]
    blocks = [
        m for m in backbone.modules() if isinstance(m, GSoPChannelBlock)
    ]
    assert len(blocks) == 6 + 3  # every block of stages 3 and 4
