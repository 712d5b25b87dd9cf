"""The converter plumbing: reading authors' training checkpoints that pickle
a yacs config without yacs, and prefix-only renaming."""
import argparse
import importlib

import pytest
import torch

from mmext.utils.converter import (load_checkpoint, load_state_dict,
                                   rename_by_rules, src_dst_parser)

CONFIG = {
    'MODEL': {
        'TYPE': 'dat',
        'NUM_CLASSES': 10,
        'DAT': {
            'DEPTHS': [2, 2, 6, 2],
            'STAGE_SPEC': [['L', 'S'], ['L', 'D']]
        }
    },
    'TRAIN': {
        'BASE_LR': 1e-3,
        'EPOCHS': 300,
        'AMP': False
    },
    'TAG': None
}


@pytest.fixture
def training_checkpoint(tmp_path, save_with_yacs_config):
    """(path, weights) of a Swin-style training checkpoint with a yacs
    config, yacs not importable."""
    weights = {'head.weight': torch.randn(10, 4), 'head.bias': torch.randn(10)}
    path = str(tmp_path / 'ckpt_epoch_3.pth')
    save_with_yacs_config(
        {
            'model': weights,
            'optimizer': torch.optim.AdamW(
                [torch.nn.Parameter(torch.zeros(2))]).state_dict(),
            'lr_scheduler': {'t_initial': 300, 'warmup_t': 20},
            'max_accuracy': 81.5,
            'epoch': 3
        }, path, CONFIG)
    with pytest.raises(ImportError):
        importlib.import_module('yacs.config')
    return path, weights


def test_yacs_config_read_without_yacs(training_checkpoint):
    path, weights = training_checkpoint
    ckpt = load_checkpoint(path)
    assert ckpt['config'] == CONFIG  # plain dicts, same entries
    assert type(ckpt['config']['MODEL']['DAT']).__module__ == 'collections'
    state_dict, extra = load_state_dict(
        path, container_keys=('model', ), extra_keys=('epoch',
                                                      'max_accuracy'))
    assert state_dict.keys() == weights.keys()
    for key, value in weights.items():
        assert torch.equal(state_dict[key], value)
    assert extra == {'epoch': 3, 'max_accuracy': 81.5}


def test_full_unpickling_names_the_missing_module(training_checkpoint,
                                                  monkeypatch):
    path, _ = training_checkpoint
    monkeypatch.setenv('MMEXT_TRUST_CHECKPOINTS', '1')
    with pytest.raises(ValueError) as info:
        load_checkpoint(path)
    msg = str(info.value)
    assert "module 'yacs', which is not installed" in msg
    assert 'install yacs, or unset MMEXT_TRUST_CHECKPOINTS' in msg
    assert 'truncated' not in msg


def test_other_pickled_objects_still_refused(tmp_path):
    path = str(tmp_path / 'args.pth')
    torch.save({'args': argparse.Namespace(lr=0.1),
                'state_dict': {'w': torch.zeros(1)}}, path)
    with pytest.raises(ValueError, match='MMEXT_TRUST_CHECKPOINTS'):
        load_checkpoint(path)


def test_help_says_how_src_is_read():
    text = src_dst_parser('convert', 'source').format_help()
    for words in ('without running pickled code', 'yacs need not be',
                  'MMEXT_TRUST_CHECKPOINTS=1'):
        assert words in ' '.join(text.split())


def test_rename_replaces_only_the_leading_match():
    rules = [(r'(conv1|layer1)\.', r'backbone.\1.')]
    assert rename_by_rules('layer1.0.conv1.weight', rules, 'x') == \
        'backbone.layer1.0.conv1.weight'
    with pytest.raises(KeyError, match="'fc.weight' \\(not a ResNet\\)"):
        rename_by_rules('fc.weight', rules, 'not a ResNet')


def test_rename_by_a_function_of_the_match():
    rules = [(r's(\d+)\.b(\d+)\.', lambda m: f'layer{m[1]}.{int(m[2]) - 1}.')]
    assert rename_by_rules('s2.b1.f.a.weight', rules, 'x') == \
        'layer2.0.f.a.weight'
