"""TAMTViT and the whole TAMT model against the authors' computation
(tests/tamt_authors.py), parameter counts, freezing and loading by content."""
import pytest
import torch
import torch.nn.functional as F
from tamt_authors import authors_backbone, authors_forward, authors_state

from mmext.models.backbones.tamt_vit import videomae_to_mmext
from mmext.models.necks.gtmt import gtmt_to_mmext
from mmext.registry import MODELS


def build_tamt(**backbone):
    return MODELS.build(
        dict(
            type='EpisodicClassifier',
            backbone=dict(type='TAMTViT', **backbone),
            neck=dict(type='GTMTNeck'),
            head=dict(type='PrototypeHead'),
            data_preprocessor=dict(
                type='mmaction.ActionDataPreprocessor',
                format_shape='NCTHW')))


def load_authors(model, sd):
    state = {f'backbone.{k}': v for k, v in videomae_to_mmext(
        {'epoch': 3, 'state': sd}).items()}
    state.update({f'neck.{k}': v for k, v in gtmt_to_mmext(sd).items()})
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected
    assert all(k.startswith('data_preprocessor.') for k in missing), missing


def test_parameter_counts():
    """The parameters of the authors' model that take part in the forward
    pass: 23,882,336, of which 2,003,168 train (research notes: 23,910,400
    and 2,003,584 with the 27,648 + 416 parameters that never run)."""
    model = build_tamt()
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert total == 23_882_336
    assert trainable == 2_003_168
    assert sum(p.numel() for p in model.neck.parameters()) == 1_631_072
    adapter = model.backbone.blocks[10].adapter
    assert sum(p.numel() for p in adapter.parameters()) == 184_512
    assert 'pos_embed' not in model.backbone.state_dict()


def test_matches_authors_computation():
    """The converted authors' weights give their embedding (float64, eval:
    no drop path, BN running statistics, random non-trivial weights)."""
    sd = authors_state(0)
    model = build_tamt().double().eval()
    load_authors(model, sd)
    x = torch.randn(2, 3, 16, 112, 112, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours = model.extract_feat(x)
        ref = authors_forward(sd, x)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-6)
    # mmaction2's (B, views, 3, T, H, W): one view gives the same features
    with torch.no_grad():
        torch.testing.assert_close(model.extract_feat(x[:, None]), ours)


def test_fixed_temporal_layout_is_a_per_token_convolution():
    model = build_tamt(temporal_layout='fixed', img_size=32).double().eval()
    bb = model.backbone
    tokens = torch.randn(2, 8 * 4, 384, dtype=torch.float64)
    w, b = bb.temporal_conv.weight, bb.temporal_conv.bias
    expected = torch.empty_like(tokens)
    seq = tokens.view(2, 8, 4, 384)
    for t in range(8):  # zero padding at both ends
        acc = b.expand(2, 4, 384).clone()
        for k, dt in enumerate((-1, 0, 1)):
            if 0 <= t + dt < 8:
                acc = acc + seq[:, t + dt] * w[:, 0, k]
        expected.view(2, 8, 4, 384)[:, t] = acc
    torch.testing.assert_close(bb._temporal_mix(tokens), expected)
    # the authors' layout differs (their reshape mixes channels and frames)
    bb.temporal_layout = 'authors'
    assert not torch.allclose(bb._temporal_mix(tokens), expected)


def test_only_adapters_norms_and_temporal_conv_train():
    model = build_tamt(img_size=32)
    names = {n for n, p in model.backbone.named_parameters()
             if p.requires_grad}
    assert names == {n for n, _ in model.backbone.named_parameters()
                     if '.adapter.' in n or n.split('.')[0] in (
                         'fc_norm', 'fc_norm2', 'temporal_conv')}
    assert any('blocks.11.adapter.gate' in n for n in names)
    open_all = build_tamt(img_size=32, freeze_pretrained=False)
    assert all(p.requires_grad for p in open_all.parameters())


def _videomae_file(tmp_path, sd, layout):
    """The backbone of ``sd`` saved in a VideoMAE release layout."""
    vm = {k[len('feature.'):]: v.float() for k, v in sd.items()
          if k.startswith('feature.') and '.tam.' not in k
          and 'fc_norm2' not in k and not k.startswith('feature.temporal')}
    vm['head.weight'] = torch.zeros(364, 384)
    vm['head.bias'] = torch.zeros(364)
    if layout == 'ssl':
        vm = {'model': {f'encoder.{k}': v for k, v in vm.items()
                        if not k.startswith(('head.', 'fc_norm'))}}
        vm['model']['decoder.blocks.0.norm1.weight'] = torch.ones(192)
        vm['model']['mask_token'] = torch.zeros(1, 1, 192)
    else:
        vm = {'module': vm}
    path = str(tmp_path / 'some_name_the_code_does_not_know.pth')
    torch.save(vm, path)
    return path


@pytest.mark.parametrize('layout', ['supervised', 'ssl'])
def test_init_cfg_loads_videomae_by_content(tmp_path, layout):
    sd = authors_state(2)
    path = _videomae_file(tmp_path, sd, layout)
    model = build_tamt(
        init_cfg=dict(type='Pretrained', checkpoint=path))
    model.init_weights()
    bb = model.backbone
    torch.testing.assert_close(
        bb.blocks[3].mlp.layers[0][0].weight,
        sd['feature.blocks.3.mlp.fc1.weight'].float())
    torch.testing.assert_close(
        bb.patch_embed.projection.weight,
        sd['feature.patch_embed.proj.weight'].float())
    torch.testing.assert_close(bb.blocks[11].attn.q_bias,
                               sd['feature.blocks.11.attn.q_bias'].float())


def test_init_cfg_rejects_other_checkpoints(tmp_path):
    path = str(tmp_path / 'resnet.pth')
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1)}}, path)
    model = build_tamt(init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match='not a VideoMAE or TAMT'):
        model.init_weights()
    path = str(tmp_path / 'vit_b.pth')  # ViT-B: another width
    torch.save({'module': {'blocks.0.attn.qkv.weight': torch.zeros(2304,
                                                                   768)}},
               path)
    model = build_tamt(init_cfg=dict(type='Pretrained', checkpoint=path))
    with pytest.raises(ValueError, match=r"blocks.0.attn.qkv.weight.*"
                       r"\(2304, 768\)"):
        model.init_weights()


def test_backbone_outputs_and_frame_check():
    model = build_tamt(img_size=32).eval()
    g, y = model.backbone(torch.randn(2, 3, 16, 32, 32))
    assert g.shape == (2, 384) and y.shape == (2, 384, 8, 2, 2)
    with pytest.raises(ValueError, match='num_frames'):
        model.backbone(torch.randn(1, 3, 8, 32, 32))


def test_backbone_map_matches_authors_tokens():
    sd = authors_state(3)
    model = build_tamt().double().eval()
    load_authors(model, sd)
    x = torch.randn(1, 3, 16, 112, 112, dtype=torch.float64)
    with torch.no_grad():
        g, fmap = model.backbone(x)
        g_ref, y_ref = authors_backbone(sd, x)
    torch.testing.assert_close(g, g_ref)
    torch.testing.assert_close(fmap.flatten(2).transpose(1, 2), y_ref)
    assert F.cosine_similarity(g, g_ref).min() > 0.999999
