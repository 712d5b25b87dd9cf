"""Parameters, FLOPs, forward latency and training throughput of a config.

Usage::

    python tools/analysis_tools/benchmark.py CONFIG \
        [--input-shape 3 224 224] [--batch-size 2] [--iters 10] [--warmup 2] \
        [--device cpu|cuda] [--no-train] [--json out.json] \
        [--cfg-options model.head.num_classes=10]

``--input-shape`` is one sample without the batch dimension: ``C H W`` for
classifiers and detectors, ``S C H W`` (or ``C H W``) for Recognizer2D,
``V C T H W`` (or ``C T H W``) for Recognizer3D. FLOPs are for batch size 1,
one multiply-add counting as one FLOP (mmengine's convention). Timings depend
on the machine and its load; they are reported, never checked. The logic lives
in :mod:`mmext.utils.benchmark`.
"""
import argparse
import json
import os
import os.path as osp
import sys


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Benchmark the model of an OpenMMLab config: parameters, '
        'FLOPs, forward latency and training throughput')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--input-shape',
        type=int,
        nargs='+',
        default=None,
        help='shape of one sample, no batch dim (default: 3 224 224 for '
        'classifiers, 3 800 1333 for detectors, 8 3 224 224 for '
        'Recognizer2D, 1 3 16 224 224 for Recognizer3D)')
    parser.add_argument(
        '--batch-size', type=int, default=2, help='batch for timings')
    parser.add_argument(
        '--iters', type=int, default=10, help='timed iterations')
    parser.add_argument(
        '--warmup', type=int, default=2, help='untimed iterations first')
    parser.add_argument(
        '--device', default='cpu', choices=['cpu', 'cuda'], help='device')
    parser.add_argument(
        '--no-train',
        action='store_true',
        help='skip the training-step throughput measurement')
    parser.add_argument('--seed', type=int, default=0, help='synthetic data')
    parser.add_argument('--json', default=None, help='write results here')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value (mmengine style)')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    # Run from a checkout without installing: make `mmext` importable.
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    if repo not in sys.path:
        sys.path.insert(0, repo)
    from mmext.utils.benchmark import benchmark_config, format_table

    if args.batch_size < 1 or args.iters < 1 or args.warmup < 0:
        raise SystemExit('--batch-size and --iters must be >= 1, '
                         '--warmup >= 0')
    result = benchmark_config(
        args.config,
        input_shape=args.input_shape,
        batch_size=args.batch_size,
        iters=args.iters,
        warmup=args.warmup,
        device=args.device,
        cfg_options=args.cfg_options,
        train=not args.no_train,
        seed=args.seed)
    print(format_table(result))
    if args.json:
        out_dir = osp.dirname(osp.abspath(args.json))
        os.makedirs(out_dir, exist_ok=True)
        with open(args.json, 'w', encoding='utf-8') as f:
            json.dump(result, f, indent=2)
        print(f'results written to {args.json}')
    return result


if __name__ == '__main__':
    main()
