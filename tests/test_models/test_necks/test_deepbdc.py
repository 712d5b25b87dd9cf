"""BDCPooling: the reduction, temperature and dropout around
:func:`mmext.ops.bdc_pool` (the op is checked against the definition of
Brownian distance covariance in ``tests/test_ops/test_bdc.py``), gradients
by gradcheck, parameter counts and bad-input messages."""
import math

import pytest
import torch

from mmext.models.necks.deepbdc import BDCPooling
from mmext.ops import bdc_pool


def test_output_is_the_op_on_the_reduced_map():
    torch.manual_seed(0)
    x = torch.randn(2, 6, 3, 4, dtype=torch.float64)
    neck = BDCPooling(in_channels=6, num_positions=12).double()
    assert math.isclose(neck.temperature.item(), math.log(1 / 24),
                        rel_tol=1e-7)  # float32 init
    assert neck.reduce is None
    out = neck(x)[0]
    assert out.shape == (2, 21)
    torch.testing.assert_close(out, bdc_pool(x, neck.temperature.detach()))
    reduced = BDCPooling(in_channels=6, reduced_channels=4).double().eval()
    y = reduced.reduce(x)
    torch.testing.assert_close(
        reduced(x)[0], bdc_pool(y, reduced.temperature.detach()))


def test_half_input_pools_in_float32():
    neck = BDCPooling(in_channels=4, num_positions=9)
    x = torch.rand(2, 4, 3, 3)
    out = neck(x.half())[0]
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, neck(x.half().float())[0])


def test_gradcheck_float64():
    torch.manual_seed(2)
    neck = BDCPooling(in_channels=4, reduced_channels=3,
                      num_positions=6).double()
    neck.eval()
    x = torch.randn(2, 4, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: neck(x)[0], (x, ))
    neck(x)[0].sum().backward()
    assert neck.temperature.grad.shape == (1, 1)


def test_parameters():
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(BDCPooling(640)) == 1  # no reduction when 640 -> 640
    assert n(BDCPooling(640, 128)) == 82177
    assert n(BDCPooling(640, 256)) == 164353
    assert n(BDCPooling(512, 256, num_positions=196)) == 131585
    assert BDCPooling(640).out_channels == 205120
    assert math.isclose(
        BDCPooling(512, 256, num_positions=196).temperature.item(),
        -5.971262, abs_tol=1e-6)


def test_bad_inputs():
    neck = BDCPooling(in_channels=4)
    with pytest.raises(ValueError, match=r'1 x 1 = 1 position.*crop_size'):
        neck(torch.randn(2, 4, 1, 1))
    x = torch.randn(2, 4, 3, 3)
    x[0, 1, 2, 2] = float('nan')
    with pytest.raises(ValueError, match='1 NaN/Inf values .*model.backbone'):
        neck(x)
    with pytest.raises(ValueError, match=r'temperature_init=inf .* finite'):
        BDCPooling(in_channels=4, temperature_init=float('inf'))
    neck.temperature.data.fill_(float('nan'))
    with pytest.raises(ValueError, match=r'temperature=nan is not finite '
                       r'\(model.neck.temperature'):
        neck(torch.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match=r"in_channels='640'"):
        BDCPooling(in_channels='640')
