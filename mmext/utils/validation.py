"""Argument checks for mmext components' constructors.

A config value of the wrong type (``depth='18'`` from a command line,
``in_channels='2048'``) otherwise fails deep inside a layer, or with a
message that hides the type (``invalid depth 18``). :func:`check_arg` names
the component, the argument, the value, its type and what is expected::

    ISQRTCOVNeck: in_channels='2048' (str) is invalid; expected an int >= 1
"""
from typing import Any, Collection, Optional, Tuple, Type, Union

Types = Union[Type, Tuple[Type, ...]]


class ArgumentError(TypeError, ValueError):
    """A component argument has the wrong type or value.

    Both a ``TypeError`` and a ``ValueError``: callers (and mmengine's
    builder, which re-raises the same exception type) that catch either keep
    working, whichever of the two the problem is.
    """


def _type_ok(value: Any, types: Tuple[Type, ...]) -> bool:
    if isinstance(value, bool):  # an int subclass, but never a number here
        return bool in types
    if float in types and isinstance(value, int):
        return True
    return isinstance(value, types)


def _in(value: Any, choices: Collection) -> bool:
    try:
        return value in choices
    except TypeError:  # unhashable value and a set/dict of choices
        return False


def _expected(types: Tuple[Type, ...], choices: Optional[Collection],
              low: Optional[float], high: Optional[float], low_open: bool,
              odd: bool, allow_none: bool) -> str:
    parts = []
    if types:
        what = ('odd ' if odd else '') + ' or '.join(t.__name__
                                                     for t in types)
        what = ('an ' if what[0] in 'aeiou' else 'a ') + what
        if low is not None and high is not None:
            what += f' in {"(" if low_open else "["}{low}, {high}]'
        elif low is not None:
            what += f' {">" if low_open else ">="} {low}'
        elif high is not None:
            what += f' <= {high}'
        parts.append(what)
    if choices is not None:
        parts.append('one of ' + ', '.join(map(repr, choices)))
    if allow_none:
        parts.append('None')
    return ' or '.join(parts)


def check_arg(owner: Any,
              name: str,
              value: Any,
              types: Optional[Types] = None,
              *,
              choices: Optional[Collection] = None,
              low: Optional[float] = None,
              high: Optional[float] = None,
              low_open: bool = False,
              odd: bool = False,
              allow_none: bool = False) -> Any:
    """Check one constructor argument; return it unchanged.

    The value is accepted if it is None (with ``allow_none``), one of
    ``choices``, or of one of ``types`` and within the bounds. ``bool`` is
    not an ``int`` here (``kernel_size=True`` is a typo), and an ``int`` is a
    ``float``.

    Args:
        owner: The component (its class name is reported) or a name.
        name: The argument's name.
        value: Its value.
        types: Accepted type(s).
        choices: Accepted values (e.g. an ``arch_settings`` table).
        low: Lower bound for values of ``types`` (inclusive unless
            ``low_open``).
        high: Upper bound (inclusive).
        low_open: Whether ``low`` itself is excluded.
        odd: Whether an int must be odd.
        allow_none: Whether None is accepted.

    Raises:
        ArgumentError: naming the owner, the argument, the value, its type
            and what is expected.
    """
    if allow_none and value is None:
        return value
    if choices is not None and _in(value, choices):
        return value
    if types is not None:
        types = types if isinstance(types, tuple) else (types, )
        # written so that NaN fails every bound
        if _type_ok(value, types) and (
                low is None or (value > low if low_open else value >= low)
        ) and (high is None or value <= high) and not (odd and value % 2 == 0):
            return value
    owner_name = owner if isinstance(owner, str) else type(owner).__name__
    expected = _expected(types or (), choices, low, high, low_open, odd,
                         allow_none)
    raise ArgumentError(
        f'{owner_name}: {name}={value!r} ({type(value).__name__}) is '
        f'invalid; expected {expected}')
