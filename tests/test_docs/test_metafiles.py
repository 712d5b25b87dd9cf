"""Every config folder has a metafile.yml (OpenMMLab's model index, read by
``mim``) whose models name existing configs of their own name, in a
collection the file declares, with a README."""
import glob
import os.path as osp

import pytest
import yaml

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FOLDERS = sorted(
    d for d in glob.glob(osp.join(REPO, 'configs', '*'))
    if osp.isdir(d) and osp.basename(d) != '_base_')


@pytest.mark.parametrize('folder', FOLDERS, ids=osp.basename)
def test_metafile_names_existing_configs(folder):
    path = osp.join(folder, 'metafile.yml')
    assert osp.isfile(path), f'{folder} has no metafile.yml'
    with open(path) as f:
        meta = yaml.safe_load(f)
    collections = {c['Name']: c for c in meta['Collections']}
    for c in collections.values():
        assert osp.isfile(osp.join(REPO, c['README'])), c['README']
    assert meta['Models'], f'{path} lists no models'
    for model in meta['Models']:
        config = model['Config']
        assert osp.isfile(osp.join(REPO, config)), f'{path}: {config}'
        assert osp.splitext(osp.basename(config))[0] == model['Name'], \
            f'{path}: {model["Name"]} names {config}'
        assert model['In Collection'] in collections, \
            f'{path}: {model["Name"]} in {model["In Collection"]!r}'
