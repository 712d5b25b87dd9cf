"""MLKPNeck: kernel terms against explicit polynomial kernels, the
even-position computation against the prototxt's dense one, the two
upsampling modes against direct formulas, and bad input."""
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmext.models.necks import MLKPNeck


def _neck(**kwargs) -> MLKPNeck:
    torch.manual_seed(0)
    cfg = dict(
        in_channels=(3, 2, 4, 4),
        deep_fusion='sum',
        fusion_channels=3,
        kernel_channels=(4, 5),
        proj_channels=2,
        out_channels=6)
    cfg.update(kwargs)
    neck = MLKPNeck(**cfg).double()
    neck.init_weights()
    # the faithful shallow conv starts at zero; give every test weights
    # that make all paths visible
    for p in neck.parameters():
        p.data.uniform_(-1, 1)
    return neck


def _inputs(h: int, w: int, seed: int = 0, channels=(3, 2, 4, 4)):
    g = torch.Generator().manual_seed(seed)
    hd, wd = (h + 1) // 2, (w + 1) // 2
    return [
        torch.rand(2, c, *(size), generator=g, dtype=torch.float64)
        for c, size in zip(channels, ((h, w), (h, w), (hd, wd), (hd, wd)))
    ]


def test_kernel_terms_are_explicit_polynomial_kernels():
    """Order r, channel k: <w_1k (x) ... (x) w_rk, x^(x)r> with
    w_ik = B_i[k] A_i, contracted with the explicitly formed x^(x)r."""
    neck = _neck()
    x = torch.rand(1, 3, 2, 3, dtype=torch.float64)
    terms = neck.kernel_terms(x)
    xs = x[0].permute(1, 2, 0).reshape(-1, 3).numpy()
    for branches, term in zip(neck.kernels, terms):
        order = len(branches)
        # composite linear maps (C_out, C_in) of each branch
        maps = [(b[1].weight[:, :, 0, 0] @ b[0].weight[:, :, 0, 0]).detach()
                .numpy() for b in branches]
        assert all(b[0].bias is None for b in branches)
        got = term[0].permute(1, 2, 0).reshape(len(xs), -1).detach().numpy()
        for p, xp in enumerate(xs):
            power = xp
            for _ in range(order - 1):
                power = np.multiply.outer(power, xp)  # x^(x)order
            for k in range(got.shape[1]):
                tensor = maps[0][k]
                for m in maps[1:]:
                    tensor = np.multiply.outer(tensor, m[k])
                want = 0.0
                for idx in itertools.product(range(3), repeat=order):
                    want += tensor[idx] * power[idx]
                assert got[p, k] == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize('mode', ['fixed', 'faithful'])
@pytest.mark.parametrize('size', [(7, 9), (8, 6), (5, 4)])
def test_even_positions_equal_dense_computation(mode, size):
    dense = _neck(mode=mode, even_positions=False)
    even = _neck(mode=mode, even_positions=True)
    even.load_state_dict(dense.state_dict())
    inputs = _inputs(*size)
    inputs_even = [t.clone().requires_grad_() for t in inputs]
    inputs = [t.requires_grad_() for t in inputs]
    out_dense, = dense(inputs)
    out_even, = even(inputs_even)
    h, w = size
    assert out_dense.shape == (2, 6, (h + 1) // 2, (w + 1) // 2)
    torch.testing.assert_close(out_even, out_dense, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(out_dense)
    (out_dense * g).sum().backward()
    (out_even * g).sum().backward()
    for (name, a), b in zip(dense.named_parameters(), even.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-10, atol=1e-12,
                                   msg=name)
    for a, b in zip(inputs, inputs_even):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-10, atol=1e-12)


def test_faithful_upsampling_is_zero_insertion_and_crop():
    neck = _neck(mode='faithful')
    inputs = _inputs(7, 8)  # even width: Caffe's Crop would fail here
    with torch.no_grad():
        neck.shallow_conv.weight.zero_()
        fused = neck.fuse_scales(inputs)
        deep = F.relu(
            torch.einsum('oc,nchw->nohw', neck.deep_conv.weight[:, :, 0, 0],
                         inputs[2] + inputs[3]))
        # ConvTranspose2d weight is (in, out, 1, 1)
        up = F.relu(
            torch.einsum('co,nchw->nohw', neck.deep_up.weight[:, :, 0, 0],
                         deep))
    want = torch.zeros_like(fused)
    want[..., ::2, ::2] = up[..., :4, :4]
    torch.testing.assert_close(fused, want, rtol=1e-12, atol=1e-12)


def test_fixed_upsampling_interpolates_any_size():
    neck = _neck(mode='fixed')
    for h, w in ((6, 10), (7, 11), (9, 4)):
        inputs = _inputs(h, w)
        with torch.no_grad():
            fused = neck.fuse_scales(inputs)
            shallow = F.relu(neck.shallow_conv(torch.cat(inputs[:2], 1)))
            deep = F.relu(neck.deep_conv(inputs[2] + inputs[3]))
            deep = F.interpolate(deep, size=(h, w), mode='bilinear')
            deep = F.relu(
                torch.einsum('co,nchw->nohw',
                             neck.deep_up.weight[:, :, 0, 0], deep))
        torch.testing.assert_close(fused, shallow + deep)
        assert neck(inputs)[0].shape == (2, 6, (h + 1) // 2, (w + 1) // 2)


def test_location_weight_is_one_map():
    neck = _neck()
    x = torch.rand(2, 3, 5, 6, dtype=torch.float64)
    with torch.no_grad():
        m = neck.location_weight(x)
        a = F.relu(torch.einsum('c,nchw->nhw', neck.loc_reduce.weight[0, :, 0,
                                                                      0], x))
        b = F.relu(F.conv2d(a[:, None], neck.loc_conv.weight, padding=1))
        want = torch.sigmoid(b * neck.loc_out.weight[0, 0, 0, 0])
    assert m.shape == (2, 1, 5, 6)
    torch.testing.assert_close(m, want)


def test_faithful_initialisation_keeps_the_shallow_branch_dead():
    """HEAD train.prototxt: zero weights followed by a ReLU get exactly
    zero gradient, so the output never depends on the shallow maps."""
    for mode, dead in (('faithful', True), ('fixed', False)):
        torch.manual_seed(0)
        neck = MLKPNeck(
            in_channels=(3, 2, 4, 4), deep_fusion='sum', fusion_channels=3,
            kernel_channels=(4, 5), proj_channels=2, out_channels=6,
            mode=mode)
        neck.init_weights()
        inputs = _inputs(5, 7)
        out, = neck([t.float() for t in inputs])
        out.sum().backward()
        grad = neck.shallow_conv.weight.grad
        assert (grad.abs().max().item() == 0) == dead, mode
        assert (neck.shallow_conv.weight.abs().max().item() == 0) == dead


def test_biases_follow_the_prototxts():
    vgg = MLKPNeck()
    assert vgg.out_conv.bias is not None
    assert all(b[0].bias is None for o in vgg.kernels for b in o)
    r101 = MLKPNeck(
        in_channels=(512, 512, 1024, 1024),
        deep_fusion='sum',
        out_channels=1024,
        out_bias=False,
        last_proj_bias=True)
    biased = [(i, j) for i, o in enumerate(r101.kernels)
              for j, b in enumerate(o) if b[0].bias is not None]
    assert biased == [(1, 2)]  # concat_5_a
    assert r101.out_conv.bias is None


@pytest.mark.parametrize('kwargs, key', [
    (dict(mode='caffe'), 'mode'),
    (dict(deep_fusion='max'), 'deep_fusion'),
    (dict(in_channels=(512, 512, 512)), 'in_channels'),
    (dict(in_channels=(512, 256, 512, 512), shallow_fusion='sum'),
     'shallow_fusion'),
])
def test_bad_arguments_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        MLKPNeck(**kwargs)


def test_wrong_number_of_inputs():
    neck = _neck()
    with pytest.raises(ValueError, match='4 backbone outputs'):
        neck(_inputs(5, 5)[:3])
