"""Strip the teachers (and connectors, losses) from a distillation training
checkpoint, keeping the student for deployment.

A ``KDDistiller`` checkpoint holds ``student.*``, ``teachers.*`` and
``connectors.*`` weights plus optimizer state. The output holds only the
student's weights without the ``student.`` prefix, so it loads into the
plain student config (e.g. ``configs/kd/resnet8x4_1xb64_240e_cifar100.py``)
with ``tools/test.py`` or ``load_from``.

Usage::

    python tools/model_converters/strip_teacher.py SRC DST
"""
import argparse
import sys
from typing import Optional, Sequence

from mmengine.runner import save_checkpoint

from mmext.models.distillers import extract_student_state_dict
from mmext.utils import CheckpointError, safe_torch_load


def strip_teacher(src: str, dst: str) -> int:
    """Write the student of ``src`` to ``dst``; returns its number of
    tensors.

    Raises:
        FileNotFoundError: ``src`` is missing.
        ValueError: ``src`` is not a checkpoint.
        KeyError: ``src`` holds no ``student.`` weights.
    """
    try:
        ckpt = safe_torch_load(src, map_location='cpu')
    except CheckpointError as e:
        raise ValueError(str(e)) from e
    state_dict = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) \
        else None
    if not isinstance(state_dict, dict):
        raise ValueError(f'{src} holds no state_dict')
    try:
        student = extract_student_state_dict(state_dict)
    except KeyError as e:
        raise KeyError(f'{src}: {e.args[0]}') from e
    meta = dict(ckpt.get('meta') or {}) if isinstance(ckpt, dict) else {}
    meta['converter'] = 'tools/model_converters/strip_teacher.py'
    save_checkpoint({'state_dict': student, 'meta': meta}, dst)
    return len(student)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Keep only the student of a KDDistiller checkpoint.')
    parser.add_argument('src', help='distillation training checkpoint')
    parser.add_argument('dst', help='where to write the student checkpoint')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    try:
        num = strip_teacher(args.src, args.dst)
    except KeyError as e:
        print(f'error: {e.args[0]}', file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'saved the student ({num} tensors) to {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
