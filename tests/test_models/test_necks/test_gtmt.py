"""GTMTNeck against the authors' head computation (tests/tamt_authors.py):
regrouping of frames {n, n + 4}, covariance square root, fusion."""
import pytest
import torch
from tamt_authors import authors_head, authors_state

from mmext.models.necks.gtmt import gtmt_to_mmext
from mmext.registry import MODELS


def test_matches_authors_head():
    sd = authors_state(4)
    neck = MODELS.build(dict(type='GTMTNeck')).double().eval()
    neck.load_state_dict(gtmt_to_mmext(sd))
    g = torch.randn(3, 384, dtype=torch.float64)
    y = torch.randn(3, 384, 8, 7, 7, dtype=torch.float64)
    tokens = y.flatten(2).transpose(1, 2)  # (B, N, C), (t, h, w) order
    with torch.no_grad():
        torch.testing.assert_close(neck((g, y)), authors_head(sd, g, tokens))


def test_parameters_and_output_shape():
    neck = MODELS.build(dict(type='GTMTNeck'))
    assert sum(p.numel() for p in neck.parameters()) == 1_631_072
    assert neck.fc.in_features == 4096
    out = neck((torch.randn(2, 384), torch.randn(2, 384, 8, 2, 2)))
    assert out.shape == (2, 384)


def test_bad_input():
    neck = MODELS.build(dict(type='GTMTNeck'))
    with pytest.raises(ValueError, match='num_segments is 8'):
        neck((torch.randn(2, 384), torch.randn(2, 384, 4, 2, 2)))
    with pytest.raises(ValueError, match='multiple of 4'):
        MODELS.build(dict(type='GTMTNeck', num_groups=6, num_segments=12))
    with pytest.raises(ValueError, match='TAMT head'):
        gtmt_to_mmext({'feature.fc_norm.weight': torch.zeros(1)}, 'x.tar')
