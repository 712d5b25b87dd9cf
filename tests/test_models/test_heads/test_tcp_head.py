"""TCPHead: the video covariance against torch.cov and a plain Newton-Schulz
loop (float64), the attention parts against per-frame loops, the temporal
padding for T = 8, 16 (and an even kernel), zero-init behaviour, the
authors' parameter counts, view fusion and bad-input messages."""
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS as ACTION_MODELS
from mmengine.registry import DefaultScope

import mmext  # noqa: F401
from mmext.models.heads import TCPHead
from mmext.models.heads.tcp_head import (TemporalAttention,
                                         TemporalChannelAttention,
                                         TemporalSpatialAttention,
                                         video_isqrt_cov)


@pytest.fixture(autouse=True)
def mmaction_scope():
    """TCPHead builds its loss through mmaction2's registry."""
    with DefaultScope.overwrite_default_scope('mmaction'):
        yield


def _ns_sqrt_loop(sigma: torch.Tensor, num_iter: int) -> torch.Tensor:
    """Coupled Newton-Schulz square root of one SPD matrix, written out."""
    c = sigma.size(0)
    eye = torch.eye(c, dtype=sigma.dtype)
    trace = torch.trace(sigma)
    a = sigma / trace
    y, z = a, eye
    for _ in range(num_iter):
        t = 0.5 * (3 * eye - z @ y)
        y, z = y @ t, t @ z
    return y * trace.sqrt()


def _triu(m: torch.Tensor) -> torch.Tensor:
    rows, cols = torch.triu_indices(m.size(0), m.size(1))
    return m[rows, cols]


@pytest.mark.parametrize('num_segments', [8, 3])
def test_video_covariance_against_torch_cov(num_segments):
    torch.manual_seed(0)
    n, c, h, w = 2, 6, 3, 2
    x = torch.randn(n * num_segments, c, h, w, dtype=torch.float64).relu()
    out = video_isqrt_cov(x, num_segments, num_iter=3)
    assert out.shape == (n, c * (c + 1) // 2)
    for v in range(n):
        frames = x[v * num_segments:(v + 1) * num_segments]  # (T, C, H, W)
        positions = frames.permute(1, 0, 2, 3).reshape(c, -1)
        sigma = torch.cov(positions, correction=0)
        expected = _triu(_ns_sqrt_loop(sigma, 3))
        torch.testing.assert_close(out[v].double(), expected, rtol=1e-5,
                                   atol=1e-6)
    # many iterations converge to the eigendecomposition square root
    out = video_isqrt_cov(x, num_segments, num_iter=40)
    positions = x[:num_segments].permute(1, 0, 2, 3).reshape(c, -1)
    evals, evecs = torch.linalg.eigh(torch.cov(positions, correction=0))
    root = evecs @ torch.diag(evals.clamp_min(0).sqrt()) @ evecs.T
    torch.testing.assert_close(out[0].double(), _triu(root), rtol=1e-4,
                               atol=1e-5)


def test_video_covariance_float32_under_autocast():
    x = torch.randn(16, 4, 2, 2).relu()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = video_isqrt_cov(x, 8)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, video_isqrt_cov(x, 8))


def test_tsa_against_loop():
    torch.manual_seed(0)
    t, c, h, w = 4, 5, 2, 3
    tsa = TemporalSpatialAttention(c, t).eval()
    torch.nn.init.normal_(tsa.norm.weight)
    torch.nn.init.normal_(tsa.norm.bias)
    x = torch.randn(2 * t, c, h, w)
    out = tsa(x)
    assert out.shape == x.shape
    for v in range(2):
        for f in range(t):
            i = v * t + f
            p1 = x[v * t + max(f - 1, 0)]  # replicate the first frame
            p2 = x[v * t + max(f - 2, 0)]
            q = F.conv2d(p1[None], tsa.conv_prev1.weight,
                         tsa.conv_prev1.bias).reshape(c, -1)
            k = F.conv2d(p2[None], tsa.conv_prev2.weight,
                         tsa.conv_prev2.bias).reshape(c, -1)
            val = F.conv2d(x[i][None], tsa.conv_cur.weight,
                           tsa.conv_cur.bias).reshape(c, -1)
            att = torch.softmax(q.T @ k / c**0.5, dim=1)  # (HW, HW)
            y = (val @ att.T).reshape(1, c, h, w)
            expected = x[i] + tsa.norm(y)[0]
            torch.testing.assert_close(out[i], expected, rtol=1e-5,
                                       atol=1e-5)


def test_tca_against_loop():
    torch.manual_seed(0)
    t, c = 4, 3
    tca = TemporalChannelAttention(c, t)
    for p in tca.parameters():
        torch.nn.init.normal_(p)
    x = torch.randn(t, c, 2, 2)
    y = torch.randn(t, c, 2, 2)
    out = tca(x, y)
    p = x.mean((2, 3))

    def gate(d):
        hidden = torch.relu(tca.fc1.weight.view(4 * c, c) @ d +
                            tca.fc1.bias)
        return torch.sigmoid(tca.fc2.weight.view(c, 4 * c) @ hidden +
                             tca.fc2.bias)

    for f in range(t):
        d1 = p[f] - p[(f - 1) % t]  # circular, as the authors' TCA
        d2 = 0.5 * (p[f] - p[(f - 2) % t])
        expected = y[f] * ((gate(d1) + gate(d2)) / 2).view(c, 1, 1)
        torch.testing.assert_close(out[f], expected)


@pytest.mark.parametrize('num_segments,kernel', [(8, 5), (16, 9), (6, 4),
                                                 (1, 1)])
def test_temporal_conv_padding_right_for_every_t(num_segments, kernel):
    """T frames in, T frames out, each frame convolved with its circular
    neighbourhood ``t - (k - 1) // 2 .. t + k // 2``."""
    torch.manual_seed(0)
    c, h, w = 3, 2, 2
    att = TemporalAttention(c, num_segments, use_tsa=False, use_tca=False)
    assert att.temporal_conv.weight.shape == (c, c, kernel, 1, 1)
    torch.nn.init.normal_(att.temporal_conv.weight)
    torch.nn.init.normal_(att.temporal_conv.bias)
    y = torch.randn(2 * num_segments, c, h, w)
    out = att._temporal_conv(y)
    assert out.shape == y.shape
    weight = att.temporal_conv.weight[..., 0, 0]  # (C_out, C_in, k)
    for v in range(2):
        for t in range(num_segments):
            acc = att.temporal_conv.bias.view(c, 1, 1).clone()
            for j in range(kernel):
                src = (t - (kernel - 1) // 2 + j) % num_segments
                acc = acc + torch.einsum('oi,ihw->ohw', weight[:, :, j],
                                         y[v * num_segments + src])
            torch.testing.assert_close(out[v * num_segments + t], acc,
                                       rtol=1e-5, atol=1e-5)


def test_attention_is_off_at_init():
    """Zero-initialised temporal conv: the head's output equals that of the
    same head without any attention."""
    torch.manual_seed(0)
    kwargs = dict(num_classes=5, in_channels=16, num_segments=8,
                  inner_channels=12, reduced_channels=8)
    head = TCPHead(**kwargs).eval()
    plain = TCPHead(**kwargs, use_tsa=False, use_tca=False,
                    use_temporal_conv=False).eval()
    assert plain.attention.tsa is None and plain.attention.tca is None
    missing, unexpected = plain.load_state_dict(head.state_dict(),
                                                strict=False)
    assert not missing and all(k.startswith('attention.')
                               for k in unexpected)
    x = torch.randn(2 * 8, 16, 3, 3)
    torch.testing.assert_close(head(x, num_segs=8), plain(x, num_segs=8))
    # the attention itself is the identity on the (ReLU) reduced map
    reduced = head.reduce2(head.reduce1(x))
    torch.testing.assert_close(head.attention(reduced), reduced)
    # switched on, it changes the output and receives gradients
    torch.nn.init.normal_(head.attention.temporal_conv.weight, std=0.1)
    head.train()
    out = head(x, num_segs=8)
    assert not torch.allclose(out, plain.train()(x, num_segs=8))
    out.square().sum().backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert head.attention.tsa.norm.weight.grad.abs().sum() > 0


def _recognizer(num_classes=400, num_segments=8, depth=50):
    return ACTION_MODELS.build(
        dict(
            type='Recognizer2D',
            backbone=dict(
                type='ResNet', depth=depth, strides=(1, 2, 2, 1),
                pretrained=None, norm_eval=False),
            cls_head=dict(
                type='TCPHead', num_classes=num_classes,
                num_segments=num_segments, average_clips='prob')))


@pytest.mark.parametrize('num_classes,num_segments,params', [
    (400, 8, 27_632_208),
    (400, 16, 27_697_744),
    (200, 8, 25_980_808),
])
def test_param_counts_equal_authors(num_classes, num_segments, params):
    model = _recognizer(num_classes, num_segments)
    assert sum(p.numel() for p in model.parameters()) == params
    head = model.cls_head
    assert head.out_channels == 8256
    # the authors' head breakdown (8 frames): 821,376 = reduction 557,824 +
    # TSA 49,792 + TCA 131,712 + temporal conv 82,048
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    conv = 128 * 128 * (num_segments // 2 + 1) + 128
    assert count(head.reduce1) + count(head.reduce2) == 557_824
    assert count(head.attention.tsa) == 49_792
    assert count(head.attention.tca) == 131_712
    assert count(head.attention.temporal_conv) == conv


def test_views_and_fusion():
    torch.manual_seed(0)
    head = TCPHead(num_classes=4, in_channels=8, num_segments=4,
                   inner_channels=8, reduced_channels=4,
                   average_clips='prob').eval()
    x = torch.randn(2 * 3 * 4, 8, 2, 2)  # 2 videos x 3 views x 4 frames
    scores = head(x, num_segs=12)
    assert scores.shape == (6, 4)
    # each view is pooled on its own
    torch.testing.assert_close(scores[1:2], head(x[4:8], num_segs=4))
    probs = scores.softmax(-1).view(2, 3, 4)
    torch.testing.assert_close(head.average_clip(scores, 3),
                               probs.max(1)[0])
    head.view_fusion = 'mean'
    torch.testing.assert_close(head.average_clip(scores, 3), probs.mean(1))
    head.average_clips = 'score'
    torch.testing.assert_close(head.average_clip(scores, 3),
                               scores.view(2, 3, 4).mean(1))


def test_recognizer_predict_fuses_views():
    from mmaction.structures import ActionDataSample
    torch.manual_seed(0)
    model = ACTION_MODELS.build(
        dict(
            type='Recognizer2D',
            backbone=dict(type='ResNet', depth=18, strides=(1, 2, 2, 1),
                          pretrained=None, norm_eval=False),
            cls_head=dict(type='TCPHead', num_classes=3, in_channels=512,
                          num_segments=4, average_clips='prob'))).eval()
    inputs = torch.randn(1, 2 * 4, 3, 32, 32)  # 2 views of 4 frames
    samples = [ActionDataSample().set_gt_label(0)]
    with torch.no_grad():
        (pred, ) = model(inputs, samples, mode='predict')
        feats, kw = model.extract_feat(inputs, test_mode=True)
        views = model.cls_head(feats, **kw).softmax(-1)
    assert views.shape == (2, 3)
    torch.testing.assert_close(pred.pred_score, views.max(0)[0])


def test_bad_input_messages():
    head = TCPHead(num_classes=3, in_channels=8, num_segments=1,
                   inner_channels=8, reduced_channels=4)
    with pytest.raises(ValueError) as err:
        head(torch.randn(2, 8, 1, 1), num_segs=1)
    msg = str(err.value)
    assert 'has 1 position(s)' in msg and 'num_segments=1' in msg
    assert 'crop_size' in msg
    head = TCPHead(num_classes=3, in_channels=8, num_segments=2,
                   inner_channels=8, reduced_channels=4)
    x = torch.randn(4, 8, 2, 2)
    x[1, 3, 0, 1] = float('nan')
    with pytest.raises(ValueError) as err:
        head(x, num_segs=2)
    msg = str(err.value)
    assert 'contains NaN or Inf (1 of 128 values' in msg
    assert 'optim_wrapper.optimizer.lr' in msg
    with pytest.raises(ValueError, match='not a multiple of num_segments=2'):
        head(torch.randn(6, 8, 2, 2), num_segs=3)
    with pytest.raises(ValueError, match=r'in_channels=8'):
        head(torch.randn(4, 6, 2, 2), num_segs=2)
    with pytest.raises(ValueError, match="view_fusion='median'"):
        TCPHead(num_classes=3, view_fusion='median')


def test_param_count_preact_r152_equals_authors():
    """TCP-TSN-R152 (MXNet pre-activation ResNet-152), 8 frames, 400
    classes: backbone 58,136,262 + head 821,376 + classifier 3,302,800."""
    model = ACTION_MODELS.build(
        dict(
            type='Recognizer2D',
            backbone=dict(type='mmpretrain.PreActResNet', depth=152),
            cls_head=dict(type='TCPHead', num_classes=400)))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(model.backbone) == 58_136_262
    assert count(model) == 62_260_438


def test_scores_float32_under_bf16_autocast():
    """mmaction2's loss_by_feat takes top-k accuracy in NumPy (no
    bfloat16): the head returns float32 scores under autocast too."""
    head = TCPHead(num_classes=3, in_channels=8, num_segments=2,
                   inner_channels=8, reduced_channels=4)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = head(torch.randn(4, 8, 3, 3), num_segs=2)
    assert out.dtype == torch.float32
