"""Run by torchrun in test_train_tools: train via tools/train.py, then save
this rank's parameters so the test can compare ranks."""
import os
import os.path as osp
import sys

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools'))
from train import main  # noqa: E402

if __name__ == '__main__':
    argv = sys.argv[1:] + ['--launcher', 'pytorch']
    runner = main(argv)
    model = runner.model.module if hasattr(runner.model,
                                           'module') else runner.model
    rank = int(os.environ['RANK'])
    # Parameters only: BN running statistics are per-rank buffers
    # (mmengine's DDP does not broadcast buffers) and legitimately differ.
    torch.save({k: v.detach().cpu()
                for k, v in model.named_parameters()},
               osp.join(runner.work_dir, f'rank{rank}.pth'))
