"""PrototypeHead against hand-computed scores on tiny episodes."""
import pytest
import torch

from mmext.models import PrototypeHead


def test_one_shot_inner_product():
    support = torch.tensor([[1., 0.], [0., 2.]])
    query = torch.tensor([[3., 1.], [-1., 1.]])
    scores = PrototypeHead().scores(support, torch.tensor([0, 1]), query)
    # q . p by hand: [3*1+1*0, 3*0+1*2], [-1, 2]
    assert torch.equal(scores, torch.tensor([[3., 2.], [-1., 2.]]))


def test_k_shot_negative_squared_distance():
    support = torch.tensor([[0., 0.], [2., 0.], [0., 4.], [0., 2.]])
    labels = torch.tensor([0, 0, 1, 1])
    query = torch.tensor([[1., 1.]])
    scores = PrototypeHead().scores(support, labels, query)
    # prototypes (1, 0) and (0, 3): distances 1 and 1 + 4
    assert torch.equal(scores, torch.tensor([[-1., -5.]]))
    dot = PrototypeHead(metric='dot').scores(support, labels, query)
    assert torch.equal(dot, torch.tensor([[1., 3.]]))


def test_loss_is_cross_entropy_of_scores():
    head = PrototypeHead()
    support = torch.tensor([[1., 0.], [0., 1.]])
    query = torch.tensor([[2., 0.], [0., 1.]])
    out = head.loss(support, torch.tensor([0, 1]), query,
                    torch.tensor([0, 0]))
    # scores [[2, 0], [0, 1]]: CE = mean(log(1+e^-2), log(1+e^1))
    expected = (torch.log1p(torch.exp(torch.tensor(-2.))) +
                torch.log1p(torch.exp(torch.tensor(1.)))) / 2
    assert torch.allclose(out['loss'], expected)
    assert out['accuracy'] == 50


def test_nan_features_rejected():
    with pytest.raises(ValueError, match='query features hold 1 NaN/Inf '
                       'values.*model.neck'):
        PrototypeHead().scores(
            torch.ones(2, 3), torch.tensor([0, 1]),
            torch.tensor([[1., float('nan'), 0.]]))
