import pytest
import torch
import torch.nn.functional as F

from mmext.models.heads import GFNetHead


def test_cascade_concatenates_steps():
    head = GFNetHead(4, num_classes=3, mode='cascade', max_steps=3)
    feats = torch.randn(3, 2, 4)
    logits, state = head(feats[0])
    assert logits is None
    for k in (2, 3):
        logits, state = head(feats[k - 1], state)
        fc = getattr(head, f'fc_{k}')
        expected = F.linear(torch.cat(list(feats[:k]), 1), fc.weight, fc.bias)
        assert torch.allclose(logits, expected)
    with pytest.raises(ValueError, match='max_steps'):
        head(feats[0], state)


def test_gru_carries_hidden_state():
    torch.manual_seed(0)
    head = GFNetHead(4, num_classes=3, mode='gru', hidden_dim=5)
    cell = torch.nn.GRUCell(4, 5)
    cell.load_state_dict({k[:-3]: v for k, v in head.rnn.state_dict().items()})
    feats = torch.randn(3, 2, 4)
    state, hidden = None, torch.zeros(2, 5)
    for feat in feats:
        logits, state = head(feat, state)
        hidden = cell(feat, hidden)
        assert torch.allclose(logits, head.fc(hidden), atol=1e-6)
