"""RISA's experiment from the command line; see README.md.

Steps: train-generator, train-feature-net, generate, train-assessor,
evaluate, preferences, score-folder, export-folder; ``all`` runs the first
five on one work directory.
"""
import argparse
import json
import os.path as osp
import sys

import torch
from mmengine.config import Config

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from risa import evaluation, pipeline  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('step',
                        choices=[
                            'train-generator', 'train-feature-net',
                            'generate', 'train-assessor', 'evaluate',
                            'preferences', 'score-folder', 'export-folder',
                            'all'
                        ])
    parser.add_argument('config', help='project config file')
    parser.add_argument('--work-dir', required=True,
                        help='work directory of the experiment')
    parser.add_argument('--feature-net',
                        help='generate: feature network checkpoint '
                        '(default: the work directory\'s)')
    parser.add_argument('--data',
                        help='evaluate/export-folder: data file (default: '
                        f'<work-dir>/{pipeline.DATA_FILE}; another work '
                        "directory's for transfer)")
    parser.add_argument('--assessor',
                        help='assessor checkpoint (default: the work '
                        "directory's last)")
    parser.add_argument('--folder',
                        help='score-folder/export-folder: folder with '
                        'generated/ and reference/')
    parser.add_argument('--preferences', help='preferences: JSON file')
    parser.add_argument('--out', help='evaluate/score-folder/preferences: '
                        'output file (JSON, or CSV for score-folder)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch CPU threads (default 1)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = Config.fromfile(args.config)
    wd = args.work_dir
    data = args.data or osp.join(wd, pipeline.DATA_FILE)

    def assessor():
        return args.assessor or pipeline.snapshots_of(wd, 'assessor')[-1]

    def need(option):
        value = getattr(args, option)
        if value is None:
            raise SystemExit(f'{args.step} needs --{option}')
        return value

    if args.step in ('train-generator', 'all'):
        pipeline.train_generator(cfg, wd)
    if args.step in ('train-feature-net', 'all'):
        pipeline.train_feature_net(cfg, wd)
    if args.step in ('generate', 'all'):
        print(json.dumps(pipeline.generate(cfg, wd, args.feature_net)))
    if args.step in ('train-assessor', 'all'):
        pipeline.train_assessor(cfg, wd)
    if args.step in ('evaluate', 'all'):
        results = evaluation.evaluate(cfg, assessor(), data)
        out = args.out or osp.join(wd, 'results.json')
        with open(out, 'w') as f:
            json.dump(results, f, indent=1)
        print(evaluation.results_table(results))
        print(f'written to {out}')
    if args.step == 'preferences':
        result = evaluation.preference_file_agreement(
            cfg, assessor(), need('preferences'))
        print(json.dumps(result))
    if args.step == 'score-folder':
        out = need('out')
        rows = evaluation.score_folder(cfg, assessor(), need('folder'), out)
        print(f'\n{len(rows)} pairs scored, written to {out}')
    if args.step == 'export-folder':
        num = evaluation.export_folder(data, need('folder'))
        print(f'{num} pairs written to {args.folder}')


if __name__ == '__main__':
    main()
