"""Cost per step measured from the model, in both conventions, against
closed forms: the toy of ``tests/multi_exit_toy.py``, and single layers,
whose multiply-adds per output (or input) position equal the number of
their weights."""
import pytest
import torch
from multi_exit_toy import ToyMultiExitClassifier, closed_form_costs
from torch import nn

from mmext.evaluation import layer_macs, measure_step_costs

NUM_CLASSES = 5


@pytest.fixture
def toy():
    torch.manual_seed(0)
    return ToyMultiExitClassifier(num_classes=NUM_CLASSES)


def test_authors_convention_closed_form(toy):
    toy.train()
    costs = measure_step_costs(toy, torch.randn(4, 3, 16, 16), 'authors')
    assert costs == closed_form_costs(16, NUM_CLASSES, 'authors')
    assert toy.training  # mode restored
    assert all(not m._forward_hooks for m in toy.modules())


def test_mmengine_convention_closed_form(toy):
    costs = measure_step_costs(toy, torch.randn(2, 3, 12, 12), 'mmengine')
    assert costs == closed_form_costs(12, NUM_CLASSES, 'mmengine')


def test_unknown_convention(toy):
    with pytest.raises(ValueError, match="convention must be one of"):
        measure_step_costs(toy, torch.randn(1, 3, 16, 16), 'fvcore')


def _weights(module):
    return sum(p.numel() for n, p in module.named_parameters()
               if 'weight' in n)


def _macs(module, *args):
    out = module(*args)
    return layer_macs(module, args, out)


@pytest.mark.parametrize('layers, bidirectional, batch_first',
                         [(1, False, False), (2, True, True),
                          (3, True, False)])
def test_layer_macs_gru(layers, bidirectional, batch_first):
    gru = nn.GRU(6, 5, num_layers=layers, bidirectional=bidirectional,
                 batch_first=batch_first)
    x = torch.randn(3, 7, 6)  # 21 (step, sample) positions either way
    assert _macs(gru, x) == 21 * _weights(gru)
    # 3 sequences of lengths 7, 4, 2 (a packed input ignores batch_first)
    packed = nn.utils.rnn.pack_padded_sequence(x, [7, 4, 2], batch_first=True)
    assert _macs(gru, packed) == (7 + 4 + 2) * _weights(gru)


def test_layer_macs_single_layers():
    cell = nn.GRUCell(6, 5)
    assert _macs(cell, torch.randn(4, 6)) == 4 * 3 * 5 * (6 + 5)
    linear = nn.Linear(6, 3)
    assert _macs(linear, torch.randn(2, 7, 6)) == 2 * 7 * 6 * 3
    conv = nn.Conv1d(4, 6, 3, stride=2, groups=2)  # 9 -> 4 positions
    assert _macs(conv, torch.randn(2, 4, 9)) == 2 * 4 * _weights(conv)
    conv3d = nn.Conv3d(2, 3, (1, 3, 3), padding=(0, 1, 1))
    assert _macs(conv3d, torch.randn(1, 2, 4, 5, 5)) == 4 * 5 * 5 * _weights(
        conv3d)
    # transposed: every input position meets C_out / groups * k * k weights
    deconv = nn.ConvTranspose2d(4, 6, 3, stride=2, groups=2)
    assert _macs(deconv, torch.randn(2, 4, 5, 5)) == 2 * 25 * _weights(deconv)
    assert _macs(nn.BatchNorm2d(4), torch.randn(2, 4, 5, 5)) == 0
