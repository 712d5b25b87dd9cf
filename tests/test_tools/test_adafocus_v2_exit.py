"""AdaFocusV2+ end to end on generated clips: the ActivityNet config, shrunk
onto Kinetics-style smoke videos (and to 4 frames: the tool's mmengine-
convention costs trace every prefix of the steps), through
tools/analysis_tools/adaptive_inference.py (conditional exit over the
frames without retraining): the anytime accuracies are those of the model's
own ``test_step`` predictions, every frame costs the same and every budget's
exit fractions sum to 1."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, save_checkpoint

import mmext  # noqa: F401
from mmext.datasets.smoke_data import make_kinetics_style
from mmext.registry import MODELS
from mmext.testing import shrink_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'analysis_tools', 'adaptive_inference.py')
CONFIG = osp.join(REPO, 'configs', 'adafocus_v2',
                  'adafocus-v2_mobilenetv2-r50-p128_4xb8-50e_activitynet.py')
FRAMES = 4


def test_conditional_exit_on_generated_clips(tmp_path):
    make_kinetics_style(str(tmp_path / 'data' / 'kinetics400'))
    cfg = shrink_config(
        Config.fromfile(CONFIG), str(tmp_path / 'data'),
        str(tmp_path / 'work'))
    cfg.model.num_segments = FRAMES
    for loader in (cfg.train_dataloader, cfg.test_dataloader):
        for step in loader.dataset.pipeline:
            if step['type'] == 'SampleFrames':
                step['num_clips'] = FRAMES
    config = str(tmp_path / 'cfg.py')
    cfg.dump(config)
    init_default_scope('mmaction')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    checkpoint = str(tmp_path / 'model.pth')
    save_checkpoint({'state_dict': model.state_dict()}, checkpoint)

    spec = importlib.util.spec_from_file_location('adaptive_inference',
                                                  SCRIPT)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    result = tool.main([
        config, checkpoint, '--calib', 'train', '--time-images', '0',
        '--out', str(tmp_path / 'exit')
    ])

    # the reference: every exit of the model's own predictions
    loader = Runner.build_dataloader(cfg.test_dataloader)
    correct, total = torch.zeros(FRAMES), 0
    for batch in loader:
        with torch.no_grad():
            for sample in model.test_step(batch):
                label = int(sample.gt_label.reshape(-1)[0])
                correct += (sample.step_logits.argmax(-1) == label).float()
                total += 1
    assert result['num_steps'] == FRAMES
    assert [a['accuracy'] for a in result['anytime']] == pytest.approx(
        (correct / total).tolist())
    costs = result['step_costs']['authors']
    assert costs == pytest.approx([costs[0] * t for t in range(1, FRAMES + 1)])
    for row in result['budgeted']:
        assert sum(row['exit_fractions']) == pytest.approx(1)
