"""So-ViT backbone + head: parameter counts of the authors' code (c2d076e),
shapes, the sinusoid table against its closed form, freezing, gradients."""
import math

import pytest
import torch

from mmext.models.backbones import SoViT
from mmext.models.backbones.so_vit import sinusoid_table
from mmext.models.heads import SoViTHead

# arch -> (embed dims, head's reduced channels, params with 1000 classes)
ARCHS = {
    '7': (256, (48, 24), 5_579_664),
    '10': (256, (48, 24), 7_158_672),
    '14': (384, (64, 48), 24_718_704),
    '19': (448, (96, 48), 43_887_696),
}


def _numel(*modules):
    # every Parameter, the fixed position table included, as the authors'
    # timm training script counts
    return sum(p.numel() for m in modules for p in m.parameters())


@pytest.mark.parametrize('arch', list(ARCHS))
def test_parameter_count(arch):
    dims, reduced, expected = ARCHS[arch]
    backbone = SoViT(arch=arch)
    head = SoViTHead(
        num_classes=1000, in_channels=dims, reduced_channels=reduced)
    assert _numel(backbone, head) == expected


def test_sinusoid_table_closed_form():
    table = sinusoid_table(5, 6)[0]
    for p in range(5):
        for j in range(6):
            angle = p / 10000**(2 * (j // 2) / 6)
            ref = math.sin(angle) if j % 2 == 0 else math.cos(angle)
            assert table[p, j].item() == pytest.approx(ref, abs=1e-6)


def test_shapes_and_small_inputs():
    model = SoViT(arch={'embed_dims': 32, 'num_layers': 3, 'num_heads': 2,
                        'mlp_ratio': 2.}, out_indices=(1, 2))
    model.init_weights()
    assert not model.pos_embed.requires_grad
    assert model.pos_embed.shape == (1, 14 * 14 + 1, 32)
    for size, side in ((224, 14), (32, 2), (48, 3)):
        outs = model(torch.randn(2, 3, size, size))
        assert len(outs) == 2
        cls_token, tokens = outs[-1]
        assert cls_token.shape == (2, 32)
        assert tokens.shape == (2, 32, side, side)
    # a shorter sequence sees the prefix of the stored table
    assert torch.equal(model._pos_embed(5), model.pos_embed[:, :5])


def test_head_forward_backward_and_freeze():
    model = SoViT(arch={'embed_dims': 32, 'num_layers': 2, 'num_heads': 2,
                        'mlp_ratio': 2.}, frozen_stages=1)
    head = SoViTHead(num_classes=5, in_channels=32, reduced_channels=(6, 4),
                     dropout=0.5)
    model.init_weights()
    head.init_weights()
    model.train()
    assert not model.tokens.training and not model.layers[0].training
    assert model.layers[1].training
    logits = head(model(torch.randn(3, 3, 64, 64)))
    assert logits.shape == (3, 5)
    logits.sum().backward()
    assert model.layers[0].attn.qkv.weight.grad is None
    assert model.layers[1].attn.qkv.weight.grad is not None
    assert torch.isfinite(head.sv_vector.grad).all()


def test_invalid_arch():
    with pytest.raises(ValueError, match="arch='12'"):
        SoViT(arch='12')


def test_invalid_qk_scale():
    with pytest.raises(ValueError, match='qk_scale'):
        SoViT(arch={'embed_dims': 32, 'num_layers': 1, 'num_heads': 2,
                    'mlp_ratio': 2.}, qk_scale=0.)
