import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmext.models.plugins import ACmix
from mmext.models.plugins.acmix import coordinate_map, reflect_pad2d


def make_module(c_in=6, c_out=8, heads=2, ka=5, kc=3, stride=1):
    torch.manual_seed(0)
    m = ACmix(c_in, c_out, kernel_att=ka, num_heads=heads, kernel_conv=kc,
              stride=stride).double()
    with torch.no_grad():  # break the symmetry of the default init
        for p in m.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return m


def reference_attention(m, q, k, v):
    """The authors' formula, one query window at a time.

    Keys, values and the positional encoding are padded with
    nn.ReflectionPad2d (the authors' padding) and each window is cut out
    explicitly; logits keep the q . pe_i term the module drops.
    """
    n, c, h, w = q.shape
    heads, d, ka, s = m.num_heads, m.head_dim, m.kernel_att, m.stride
    pad = nn.ReflectionPad2d(ka // 2)
    loc_w = torch.linspace(-1, 1, w, dtype=q.dtype).repeat(h, 1)
    loc_h = torch.linspace(-1, 1, h, dtype=q.dtype).unsqueeze(1).repeat(1, w)
    pe = m.conv_p(torch.stack([loc_w, loc_h])[None])[0]  # d, h, w
    qh = q.view(n, heads, d, h, w) * d**-0.5
    kp = pad(k.view(n * heads, d, h, w)).view(n, heads, d, h + ka - 1, -1)
    vp = pad(v.view(n * heads, d, h, w)).view(n, heads, d, h + ka - 1, -1)
    pep = pad(pe[None])[0]
    h_out, w_out = -(-h // s), -(-w // s)
    out = torch.zeros(n, heads, d, h_out, w_out, dtype=q.dtype)
    for i in range(h_out):
        for j in range(w_out):
            y, x = i * s, j * s
            qi = qh[..., y, x]  # n, heads, d
            kw = kp[..., y:y + ka, x:x + ka].flatten(-2)  # n, heads, d, ka^2
            vw = vp[..., y:y + ka, x:x + ka].flatten(-2)
            rel = pe[:, y, x, None] - pep[:, y:y + ka, x:x + ka].flatten(-2)
            logits = torch.einsum('nhd,nhdt->nht', qi, kw + rel)
            out[..., i, j] = torch.einsum('nht,nhdt->nhd',
                                          logits.softmax(-1), vw)
    return out.view(n, c, h_out, w_out)


def reference_convolution(m, q, k, v):
    """fc mixing by explicit sums, then shifted zero-padded copies."""
    n, c, h, w = q.shape
    heads, d, kc, s = m.num_heads, m.head_dim, m.kernel_conv, m.stride
    fc = m.fc.weight[:, :, 0, 0]  # kc^2, 3 * heads
    maps = [t.view(n, heads, d, h, w) for t in (q, k, v)]
    out = torch.zeros(n, c, h, w, dtype=q.dtype)
    r = kc // 2
    for o in range(c):
        g = o // heads  # the group (channel of a head) output o belongs to
        for t in range(kc * kc):
            f = sum(fc[t, src * heads + a] * maps[src][:, a, g]
                    for src in range(3) for a in range(heads))
            dy, dx = t // kc - r, t % kc - r
            shifted = torch.zeros_like(f)
            # shifted(y, x) = f(y + dy, x + dx), zero outside the map
            dst = (slice(None), slice(max(0, -dy), h - max(0, dy)),
                   slice(max(0, -dx), w - max(0, dx)))
            src_ = (slice(None), slice(max(0, dy), h + min(0, dy)),
                    slice(max(0, dx), w + min(0, dx)))
            shifted[dst] = f[src_]
            out[:, o] += shifted
    return out[:, :, ::s, ::s]


@pytest.mark.parametrize('stride,size', [(1, (9, 10)), (2, (9, 10)),
                                         (2, (8, 7))])
def test_attention_matches_window_loop(stride, size):
    m = make_module(stride=stride)
    x = torch.randn(2, 6, *size, dtype=torch.float64)
    q, k, v = m.conv1(x), m.conv2(x), m.conv3(x)
    expected = reference_attention(m, q, k, v)
    torch.testing.assert_close(m.attention(q, k, v), expected)


@pytest.mark.parametrize('stride', [1, 2])
def test_shift_init_matches_shifted_copies(stride):
    m = make_module(stride=stride)
    m.reset_parameters()  # shift kernels, rates 0.5
    assert m.rate1.item() == 0.5 and m.rate2.item() == 0.5
    x = torch.randn(2, 6, 7, 9, dtype=torch.float64)
    q, k, v = m.conv1(x), m.conv2(x), m.conv3(x)
    torch.testing.assert_close(
        m.convolution(q, k, v), reference_convolution(m, q, k, v))
    y = m(x)
    torch.testing.assert_close(
        y, 0.5 * reference_attention(m, q, k, v) +
        0.5 * reference_convolution(m, q, k, v))


def test_parameters_and_shapes():
    m = ACmix(64, 64)  # ACmix-ResNet's first stage: 4 heads of 16
    n = dict(m.named_parameters())
    assert n['fc.weight'].shape == (9, 12, 1, 1)  # 3 * heads -> k^2
    assert n['dep_conv.weight'].shape == (64, 9, 3, 3)
    assert 'dep_conv.bias' not in n
    assert n['conv_p.weight'].shape == (16, 2, 1, 1)
    assert sum(p.numel() for p in m.parameters()) == (
        3 * (64 * 64 + 64) + 3 * 16 + 9 * 12 + 64 * 81 + 2)
    assert m(torch.rand(2, 64, 5, 6)).shape == (2, 64, 5, 6)
    m2 = ACmix(32, 48, num_heads=3, stride=2)
    assert m2(torch.rand(1, 32, 7, 3)).shape == (1, 48, 4, 2)
    with pytest.raises(ValueError):
        ACmix(8, 10, num_heads=4)


@pytest.mark.parametrize('size', [1, 2, 3, 5, 8])
def test_reflect_pad_matches_numpy(size):
    x = torch.randn(2, 3, size, size + 1, dtype=torch.float64)
    expected = np.pad(x.numpy(), ((0, 0), (0, 0), (3, 3), (3, 3)),
                      mode='reflect') if size > 1 else None
    out = reflect_pad2d(x, 3)
    if expected is None:  # a single row is repeated
        expected = np.pad(x.numpy(), ((0, 0), (0, 0), (3, 3), (0, 0)),
                          mode='edge')
        expected = np.pad(expected, ((0, 0), (0, 0), (0, 0), (3, 3)),
                          mode='reflect')
    np.testing.assert_array_equal(out.numpy(), expected)
    if size > 3:
        torch.testing.assert_close(out, F.pad(x, (3, 3, 3, 3), 'reflect'))


def test_coordinate_map():
    loc = coordinate_map(3, 5)
    assert loc.shape == (1, 2, 3, 5)
    torch.testing.assert_close(loc[0, 0, 1], torch.linspace(-1, 1, 5))
    torch.testing.assert_close(loc[0, 1, :, 2], torch.tensor([-1., 0., 1.]))


def test_gradcheck():
    m = make_module(c_in=3, c_out=4, heads=2, ka=3, stride=2)
    x = torch.randn(1, 3, 5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(m, (x, ))
    m(x).sum().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_attention_keeps_no_window_unfold():
    # The authors' unfold holds (N*heads, d, ka^2, H, W) for k and v (plus
    # the positional term); here every tensor autograd keeps is smaller.
    m = ACmix(64, 64, kernel_att=7)
    x = torch.randn(2, 64, 14, 14)
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        m.attention(m.conv1(x), m.conv2(x), m.conv3(x))
    unfold_bytes = 2 * 64 * 49 * 14 * 14 * 4
    assert sum(storages.values()) < unfold_bytes
