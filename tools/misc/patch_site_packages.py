"""Idempotent fixes to installed OpenMMLab packages (run by setup_env.sh).

Each fix is listed in README.md ("Fixes to installed packages").

1. mmaction2 1.2.0's wheel lacks ``mmaction/models/localizers/drn/`` (it has
   no ``__init__.py`` in the source tree, so packaging skips it), and
   ``import mmaction.models`` fails. The import is made optional; DRN is then
   unavailable.
"""
import importlib.util
import os.path as osp

MARK = '# mmext: drn optional'


def patch_mmaction_drn() -> str:
    spec = importlib.util.find_spec('mmaction')
    if spec is None or not spec.submodule_search_locations:
        return 'mmaction not installed, skipped'
    root = spec.submodule_search_locations[0]
    init = osp.join(root, 'models', 'localizers', '__init__.py')
    if osp.isdir(osp.join(root, 'models', 'localizers', 'drn')):
        return 'drn present, nothing to do'
    with open(init, encoding='utf-8') as f:
        src = f.read()
    if MARK in src:
        return 'already patched'
    old = 'from .drn.drn import DRN\n'
    if old not in src:
        raise RuntimeError(
            f'unexpected content in {init}: cannot find {old!r}')
    new = (f'try:  {MARK}\n    from .drn.drn import DRN\n'
           'except ImportError:\n    DRN = None\n')
    with open(init, 'w', encoding='utf-8') as f:
        f.write(src.replace(old, new))
    return 'patched'


if __name__ == '__main__':
    print('[patch] mmaction drn:', patch_mmaction_drn())
