"""check_arg: what it accepts, and the one message it gives otherwise."""
import math

import pytest

from mmext.utils import ArgumentError, check_arg


class Neck:
    """Stands in for a component: its class name is the owner."""


@pytest.mark.parametrize('value,kwargs', [
    (3, dict(types=int, low=1)),
    (1, dict(types=int, low=1)),
    (-1, dict(types=int, low=-1, high=3)),
    (3, dict(types=int, low=-1, high=3)),
    (2, dict(types=float, low=0, low_open=True)),  # an int is a float
    (0.5, dict(types=float, low=0, high=1)),
    (5, dict(types=int, low=1, odd=True)),
    (None, dict(types=int, allow_none=True)),
    (True, dict(types=bool)),
    (50, dict(choices={18: 'a', 50: 'b'})),
    ('x', dict(types=dict, choices=('x', 'y'))),
    ({'depth': 1}, dict(types=dict, choices=('x', 'y'))),
])
def test_accepts(value, kwargs):
    assert check_arg(Neck(), 'arg', value, **kwargs) is value


@pytest.mark.parametrize('value,kwargs,message', [
    ('2048', dict(types=int, low=1),
     "Neck: in_channels='2048' (str) is invalid; expected an int >= 1"),
    (True, dict(types=int, low=1),
     'Neck: in_channels=True (bool) is invalid; expected an int >= 1'),
    (8.0, dict(types=int, low=1),
     'Neck: in_channels=8.0 (float) is invalid; expected an int >= 1'),
    (0, dict(types=int, low=1),
     'Neck: in_channels=0 (int) is invalid; expected an int >= 1'),
    (0, dict(types=float, low=0, low_open=True),
     'Neck: in_channels=0 (int) is invalid; expected a float > 0'),
    (4, dict(types=int, low=-1, high=3),
     'Neck: in_channels=4 (int) is invalid; expected an int in [-1, 3]'),
    (4, dict(types=int, low=1, odd=True),
     'Neck: in_channels=4 (int) is invalid; expected an odd int >= 1'),
    ('3', dict(types=int, allow_none=True),
     "Neck: in_channels='3' (str) is invalid; expected an int or None"),
    ('18', dict(choices={18: 'a', 34: 'b'}),
     "Neck: in_channels='18' (str) is invalid; expected one of 18, 34"),
    ([1], dict(types=dict, choices={'t': 1}),  # unhashable, dict choices
     "Neck: in_channels=[1] (list) is invalid; expected a dict or one of "
     "'t'"),
])
def test_message(value, kwargs, message):
    with pytest.raises(ArgumentError) as excinfo:
        check_arg(Neck(), 'in_channels', value, **kwargs)
    assert str(excinfo.value) == message


def test_nan_fails_bounds():
    with pytest.raises(ArgumentError, match='nan'):
        check_arg(Neck(), 'p', math.nan, float, low=0, high=1)


def test_owner_name_and_error_types():
    with pytest.raises(ArgumentError, match='^eca_kernel_size: b='):
        check_arg('eca_kernel_size', 'b', 'one', float)
    # callers that catch TypeError or ValueError keep working
    assert issubclass(ArgumentError, TypeError)
    assert issubclass(ArgumentError, ValueError)
