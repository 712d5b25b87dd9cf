"""Every config snippet of README.md and configs/*/README.md, applied to the
config it names, builds and trains one iteration on the smoke data.

A snippet is a ```python block whose first line is ``# base: CONFIG``, where
CONFIG is a stock config (``mmpretrain::...``, ``mmdet::...``,
``mmaction::...``, read from the packages' ``.mim/configs``) or a path from
the repository root. The config under test is ``_base_ = CONFIG``, the
README's ``custom_imports`` line, then the snippet, as a user would write
it. Any other python block (but that line's own) fails
``test_every_python_block_is_checked``, so no snippet escapes.
"""
import glob
import math
import os.path as osp
import re
from typing import List, NamedTuple

import pytest
from mmengine.config import Config
from mmengine.registry import MODELS, init_default_scope
from mmengine.runner import Runner

import mmext  # noqa: F401
from mmext.testing import shrink_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOCS = ['README.md'] + sorted(
    osp.relpath(p, REPO)
    for p in glob.glob(osp.join(REPO, 'configs', '*', 'README.md')))
_PYTHON_BLOCK = re.compile(r'^```python\n(.*?)^```[ \t]*$', re.M | re.S)
_BASE = re.compile(r'#\s*base:\s*(\S+)\s*$')
_IMPORT = ("custom_imports = dict(imports=['mmext'], "
           'allow_failed_imports=False)')


class Block(NamedTuple):
    where: str  # 'README.md:42'
    code: str
    base: str  # '' when the block has no marker


def _blocks() -> List[Block]:
    blocks = []
    for doc in DOCS:
        with open(osp.join(REPO, doc), encoding='utf-8') as f:
            text = f.read()
        for m in _PYTHON_BLOCK.finditer(text):
            line = text.count('\n', 0, m.start()) + 1
            code = m.group(1)
            marker = _BASE.match(code.split('\n', 1)[0])
            base = marker.group(1) if marker else ''
            blocks.append(Block(f'{doc}:{line}', code, base))
    return blocks


BLOCKS = _blocks()
SNIPPETS = [b for b in BLOCKS if b.base]


def _is_import_line(block: Block) -> bool:
    return ' '.join(block.code.split()) == _IMPORT


def test_every_python_block_is_checked():
    unchecked = [
        b.where for b in BLOCKS if not b.base and not _is_import_line(b)
    ]
    assert not unchecked, (
        f'python blocks without a "# base: CONFIG" first line: {unchecked}')
    assert any(_is_import_line(b) for b in BLOCKS
               if b.where.startswith('README.md:'))
    assert len(SNIPPETS) >= 5


def _write_config(snippet: Block, path: str) -> None:
    base = snippet.base
    if '::' not in base:
        base = osp.join(REPO, base)
        assert osp.isfile(base), f'{snippet.where}: no config {snippet.base}'
    with open(path, 'w', encoding='utf-8') as f:
        f.write(f'_base_ = {base!r}\n{_IMPORT}\n{snippet.code}')


@pytest.mark.parametrize('snippet', SNIPPETS, ids=[s.where for s in SNIPPETS])
def test_snippet_builds_and_trains(snippet, smoke_data, tmp_path):
    path = str(tmp_path / 'snippet_config.py')
    _write_config(snippet, path)
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    # the model exactly as configured (the smoke run below drops pretrained
    # weights, and with them arguments the stock config passes on)
    MODELS.build(cfg.model)

    # detectors at 64 px instead of the smoke runs' 128: one iteration
    # checks the wiring, and the test stays short
    if cfg.get('default_scope') == 'mmdet' and 'smoke_size_factor' not in cfg:
        cfg.smoke_size_factor = 64 / 800
    cfg = shrink_config(cfg, smoke_data, str(tmp_path), num_samples=2)
    cfg.experiment_name = 'snippet_' + re.sub(r'\W', '_', snippet.where)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1)
    for split in ('val', 'test'):
        for key in ('dataloader', 'cfg', 'evaluator'):
            cfg[f'{split}_{key}'] = None
    cfg.default_hooks.checkpoint = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss), f'{snippet.where}: loss {loss}'
