"""require: returns the module, or stops naming the package and purpose."""
import sys

import pytest

from mmext.utils import MissingDependencyError, require


def test_installed_module_is_returned():
    import json
    assert require('json', 'json', 'a test') is json
    assert require('os.path', 'os', 'a test') is sys.modules['os.path']


def test_missing_module_names_package_and_purpose():
    with pytest.raises(MissingDependencyError) as info:
        require('mmext_no_such_module.sub', 'no-such-pkg',
                'the test of projects/X')
    msg = str(info.value)
    assert msg.startswith('the test of projects/X needs the package '
                          "'no-such-pkg'")
    assert "no module named 'mmext_no_such_module'" in msg
    assert '`pip install no-such-pkg`' in msg
    assert isinstance(info.value, ImportError)


def test_other_import_errors_propagate(tmp_path, monkeypatch):
    (tmp_path / 'mmext_broken_mod.py').write_text(
        'raise ImportError("cannot import name x")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError, match='cannot import name x') as info:
        require('mmext_broken_mod', 'broken', 'a test')
    assert not isinstance(info.value, MissingDependencyError)
