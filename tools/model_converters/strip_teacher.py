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
import sys
from typing import Optional, Sequence

from mmengine.runner import save_checkpoint

from mmext.models.distillers import extract_student_state_dict
from mmext.utils.converter import load_checkpoint, run_cli, src_dst_parser


def strip_teacher(src: str, dst: str) -> int:
    """Write the student of ``src`` to ``dst``; returns its number of
    tensors.

    Raises:
        FileNotFoundError: ``src`` is missing.
        ValueError: ``src`` is not a checkpoint.
        KeyError: ``src`` holds no ``student.`` weights.
    """
    ckpt = load_checkpoint(src)
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = src_dst_parser(
        'Keep only the student of a KDDistiller checkpoint.',
        'distillation training checkpoint')

    def run(args) -> str:
        num = strip_teacher(args.src, args.dst)
        return f'saved the student ({num} tensors) to {args.dst}'

    return run_cli(parser, run, argv)


if __name__ == '__main__':
    sys.exit(main())
