"""Models never import from the training engine (mmext.engine): a model
built outside a runner (a converter, a deployment script) must not pull in
hooks. Checked on the source, so that a lazy import inside a function
counts too."""
import ast
import os.path as osp
from pathlib import Path

import pytest

PACKAGE = Path(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__))))) / 'mmext'
MODEL_FILES = sorted((PACKAGE / 'models').rglob('*.py'))


def imported_modules(path: Path):
    """Absolute names of everything ``path`` imports."""
    # the file's package, e.g. mmext.models.distillers
    package = '.'.join(path.relative_to(PACKAGE.parent).with_suffix(
        '').parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split('.')
                base = '.'.join(parts[:len(parts) - node.level + 1])
                name = f'{base}.{node.module}' if node.module else base
            else:
                name = node.module
            yield name
            yield from (f'{name}.{alias.name}' for alias in node.names)


def test_resolves_relative_imports():
    eekd = PACKAGE / 'models' / 'distillers' / 'eekd_distiller.py'
    assert 'mmext.models.distillers.kd_distiller' in set(
        imported_modules(eekd))


@pytest.mark.parametrize(
    'path', MODEL_FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_models_do_not_import_engine(path):
    bad = [
        name for name in imported_modules(path)
        if name == 'mmext.engine' or name.startswith('mmext.engine.')
    ]
    assert not bad, f'{path} imports {bad}'
