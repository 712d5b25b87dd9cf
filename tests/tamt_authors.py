"""TAMT as its authors' code lays it out, for the TAMT tests.

:func:`authors_state` gives a random state dict with the 268 keys and shapes
of a TAMT ``meta_train.py`` checkpoint (``{'epoch', 'state': ...}``, dead
parameters included); :func:`authors_forward` computes the embedding ``z``
the authors' ``MetaTemplate.parse_feature`` gives from such a state dict,
written independently of mmext from the computation their
``network/VideoMAE.py``, ``methods/template.py`` and ``MPNCOV.py`` perform
(eval mode: no drop path, BN running statistics). ``tests/`` is on
``sys.path`` under pytest (``tests/conftest.py``).
"""
import math
from typing import Dict

import torch
import torch.nn.functional as F
from torch import Tensor

C, HEADS, DEPTH, T = 384, 6, 12, 8


def _bn(shape_c: int, g: torch.Generator) -> Dict[str, Tensor]:
    return {
        'weight': torch.rand(shape_c, generator=g, dtype=torch.float64) + .5,
        'bias': torch.randn(shape_c, generator=g, dtype=torch.float64) * .1,
        'running_mean':
        torch.randn(shape_c, generator=g, dtype=torch.float64) * .1,
        'running_var':
        torch.rand(shape_c, generator=g, dtype=torch.float64) + .5,
        'num_batches_tracked': torch.tensor(7),
    }


def authors_state(seed: int = 0) -> Dict[str, Tensor]:
    """The 268 tensors of a TAMT checkpoint's ``'state'`` (float64)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, std=0.02):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * std

    def ln(prefix):
        return {
            f'{prefix}.weight': 1 + rnd(C, std=0.1),
            f'{prefix}.bias': rnd(C, std=0.1)
        }

    sd = {
        'feature.patch_embed.proj.weight': rnd(C, 3, 2, 16, 16),
        'feature.patch_embed.proj.bias': rnd(C),
    }
    for i in range(DEPTH):
        b = f'feature.blocks.{i}'
        sd.update(ln(f'{b}.norm1'))
        sd.update(ln(f'{b}.norm2'))
        sd.update(ln(f'{b}.norm3'))
        sd.update({
            f'{b}.attn.qkv.weight': rnd(3 * C, C),
            f'{b}.attn.q_bias': rnd(C),
            f'{b}.attn.v_bias': rnd(C),
            f'{b}.attn.proj.weight': rnd(C, C),
            f'{b}.attn.proj.bias': rnd(C),
            f'{b}.mlp.fc1.weight': rnd(4 * C, C),
            f'{b}.mlp.fc1.bias': rnd(4 * C),
            f'{b}.mlp.fc2.weight': rnd(C, 4 * C),
            f'{b}.mlp.fc2.bias': rnd(C),
            f'{b}.temporal_conv.weight': rnd(C, 1, 3),
            f'{b}.temporal_conv.bias': rnd(C),
        })
        if i > 9:
            sd[f'{b}.tam.G.0.weight'] = rnd(2 * T, T)
            sd.update({f'{b}.tam.G.1.{k}': v
                       for k, v in _bn(2 * T, g).items()})
            sd[f'{b}.tam.G.3.weight'] = rnd(3, 2 * T)
            sd[f'{b}.tam.L.0.weight'] = rnd(C // 4, C, 3, std=0.05)
            sd.update({f'{b}.tam.L.1.{k}': v
                       for k, v in _bn(C // 4, g).items()})
            sd[f'{b}.tam.L2.0.weight'] = rnd(C, C // 4, 1, std=0.1)
            sd[f'{b}.tam.L3.0.weight'] = rnd(C, C // 4, 1, std=0.1)
    sd.update(ln('feature.fc_norm'))
    sd.update(ln('feature.fc_norm2'))
    sd['feature.temporal_conv.weight'] = rnd(C, 1, 3, std=0.3)
    sd['feature.temporal_conv.bias'] = rnd(C)
    for i, (cin, cout, k) in enumerate(
        ((C, 128, 1), (128, 64, 1), (4, 2, 3), (2, 1, 3)), 1):
        sd[f'layer_reduce{i}.weight'] = rnd(cout, cin, k, k, std=0.1)
        sd.update({f'layer_reduce_bn{i}.{k}': v
                   for k, v in _bn(cout, g).items()})
    sd['head2.weight'] = rnd(C, 4096)
    sd['head2.bias'] = rnd(C)
    return sd


def _sinusoid(n: int, d: int) -> Tensor:
    """VideoMAE's table: position / 10000^(2 (j // 2) / d), sin / cos."""
    table = torch.tensor([[p / 10000**(2 * (j // 2) / d) for j in range(d)]
                          for p in range(n)],
                         dtype=torch.float64)
    table[:, 0::2] = table[:, 0::2].sin()
    table[:, 1::2] = table[:, 1::2].cos()
    return table.float().double()


def _ln(x: Tensor, sd: dict, prefix: str) -> Tensor:
    return F.layer_norm(x, (C, ), sd[f'{prefix}.weight'],
                        sd[f'{prefix}.bias'], eps=1e-6)


def _bn_eval(x: Tensor, sd: dict, prefix: str) -> Tensor:
    return F.batch_norm(x, sd[f'{prefix}.running_mean'],
                        sd[f'{prefix}.running_var'], sd[f'{prefix}.weight'],
                        sd[f'{prefix}.bias'], False, 0., 1e-5)


def _authors_sqrtm(a: Tensor, iters: int) -> Tensor:
    """``MPNCOV.Sqrtm``: trace normalisation (+1e-5), coupled Newton-Schulz,
    post-compensation by sqrt(trace)."""
    eye = torch.eye(a.size(-1), dtype=a.dtype).expand_as(a)
    tr = a.diagonal(dim1=-2, dim2=-1).sum(-1)[:, None, None]
    y = a / (tr + 1e-5)
    z = eye
    for _ in range(iters - 1):
        zy = 0.5 * (3 * eye - z @ y)
        y, z = y @ zy, zy @ z
    return 0.5 * y @ (3 * eye - z @ y) * tr.sqrt()


def authors_backbone(sd: Dict[str, Tensor], x: Tensor):
    """``VisionTransformer.forward_features``: ``(g, y)``, ``(B, C)`` and
    ``(B, N, C)``, for clips ``(B, 3, 16, 112, 112)``."""
    f = {k[len('feature.'):]: v for k, v in sd.items()
         if k.startswith('feature.')}
    b = x.size(0)
    tok = F.conv3d(x, f['patch_embed.proj.weight'], f['patch_embed.proj.bias'],
                   stride=(2, 16, 16))
    tok = tok.flatten(2).transpose(1, 2)  # (B, N, C), (t, h, w) order
    n = tok.size(1)
    tok = tok + _sinusoid(n, C)
    hd = C // HEADS
    for i in range(DEPTH):
        p = f'blocks.{i}'
        y = _ln(tok, f, f'{p}.norm1')
        bias = torch.cat([f[f'{p}.attn.q_bias'],
                          torch.zeros(C, dtype=x.dtype),
                          f[f'{p}.attn.v_bias']])
        q, k, v = (y @ f[f'{p}.attn.qkv.weight'].T + bias).split(C, -1)
        q, k, v = (t.view(b, n, HEADS, hd).transpose(1, 2) for t in (q, k, v))
        attn = ((q * hd**-0.5) @ k.transpose(-2, -1)).softmax(-1)
        out = (attn @ v).transpose(1, 2).reshape(b, n, C)
        tok = tok + out @ f[f'{p}.attn.proj.weight'].T + f[
            f'{p}.attn.proj.bias']
        y = _ln(tok, f, f'{p}.norm2')
        mlp = F.gelu(y @ f[f'{p}.mlp.fc1.weight'].T + f[f'{p}.mlp.fc1.bias'])
        mlp = mlp @ f[f'{p}.mlp.fc2.weight'].T + f[f'{p}.mlp.fc2.bias']
        if i > 9:  # TAA on y as (B, C, T, h, w)
            side = int(math.isqrt(n // T))
            y5 = y.view(b, T, side, side, C).permute(0, 4, 1, 2, 3)
            s = y5.mean((3, 4))  # (B, C, T)
            u = F.conv1d(s, f[f'{p}.tam.L.0.weight'], padding=1)
            u = F.relu(_bn_eval(u, f, f'{p}.tam.L.1'))
            gate = torch.sigmoid(F.conv1d(u, f[f'{p}.tam.L2.0.weight']))
            shift = F.conv1d(u, f[f'{p}.tam.L3.0.weight'])
            taa = y5 * gate[..., None, None] + 0.1 * shift[..., None, None]
            taa = taa.permute(0, 2, 3, 4, 1).reshape(b, n, C)
            tok = tok + mlp + taa
        else:
            tok = tok + mlp
    g = _ln(tok.mean(1), f, 'fc_norm')
    y = tok.view(b, T, n // T, C).permute(0, 2, 3, 1).reshape(-1, C, T)
    y = F.conv1d(y, f['temporal_conv.weight'], f['temporal_conv.bias'],
                 padding=1, groups=C)
    y = y.reshape(b, n, C)  # their reshape of (h w, C, T) memory
    return g, _ln(tok + y, f, 'fc_norm2')


def authors_head(sd: Dict[str, Tensor], g: Tensor, y: Tensor) -> Tensor:
    """``parse_feature`` (``temporal_cov``, ``add``): ``z`` ``(B, C)`` from
    ``g`` ``(B, C)`` and tokens ``y`` ``(B, N, C)`` (7 x 7 frames)."""
    b, n, _ = y.shape
    m = y.permute(0, 2, 1).reshape(b, C, n // 7, 7)
    for i in (1, 2):
        m = F.conv2d(m, sd[f'layer_reduce{i}.weight'])
        m = F.relu(_bn_eval(m, sd, f'layer_reduce_bn{i}'))
    frames = [m[:, :, 7 * t:7 * (t + 1)].flatten(2) for t in range(T)]
    covs = []
    for grp in range(4):  # frames {grp, grp + 4}, channels c * 2 + t1
        xg = torch.stack([frames[grp], frames[grp + 4]], 2).flatten(1, 2)
        xc = xg - xg.mean(-1, keepdim=True)
        covs.append(_authors_sqrtm(xc @ xc.transpose(1, 2) / xg.size(-1), 3))
    m = torch.stack(covs, 1)  # (B, 4, 128, 128)
    m = F.relu(_bn_eval(F.conv2d(m, sd['layer_reduce3.weight'], padding=1),
                        sd, 'layer_reduce_bn3'))
    m = F.relu(_bn_eval(
        F.conv2d(m, sd['layer_reduce4.weight'], stride=2, padding=1), sd,
        'layer_reduce_bn4'))
    return g + m.flatten(1) @ sd['head2.weight'].T + sd['head2.bias']


def authors_forward(sd: Dict[str, Tensor], x: Tensor) -> Tensor:
    """The episode embedding ``z`` ``(B, C)`` of clips ``x``."""
    return authors_head(sd, *authors_backbone(sd, x))
