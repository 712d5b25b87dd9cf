"""tools/model_converters/tamt2mmext.py on files in the TAMT authors' layout
(``{'epoch', 'state'}``, 268 keys, dead parameters included) and in VideoMAE
release layouts; the converted model is compared with the authors'
computation (tests/tamt_authors.py)."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint
from tamt_authors import authors_forward, authors_state

import mmext  # noqa: F401
from mmext.registry import MODELS

ROOT = osp.join(osp.dirname(__file__), '..', '..')
SCRIPT = osp.join(ROOT, 'tools', 'model_converters', 'tamt2mmext.py')
spec = importlib.util.spec_from_file_location('tamt2mmext', SCRIPT)
tamt2mmext = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tamt2mmext)


def build_config_model():
    cfg = Config.fromfile(osp.join(ROOT, tamt2mmext.CONFIG)).model
    cfg.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmext'):
        return MODELS.build(cfg)


def test_authors_checkpoint_round_trip(tmp_path, capsys):
    sd = authors_state(5)
    assert len(sd) == 268
    src, dst = str(tmp_path / 'best_model.tar'), str(tmp_path / 'tamt.pth')
    torch.save({'epoch': 17, 'state': {k: v.float() for k, v in sd.items()}},
               src)
    assert tamt2mmext.main([src, dst]) == 0
    assert 'TAMT model' in capsys.readouterr().out
    model = build_config_model()
    ckpt = load_checkpoint(model, dst, map_location='cpu', strict=True)
    assert ckpt['meta']['kind'] == 'tamt'
    assert ckpt['meta']['source_epoch'] == 17
    # the dead parameters are gone: 268 - 27,648-parameter / 416-parameter
    # keys (12 x 4 block keys, 2 x 7 adapter G keys)
    assert len(ckpt['state_dict']) == 268 - 48 - 14
    model = model.double().eval()
    x = torch.randn(1, 3, 16, 112, 112, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(
            model.extract_feat(x),
            authors_forward({k: v.float().double() if v.is_floating_point()
                             else v for k, v in sd.items()}, x),
            rtol=1e-6, atol=1e-6)


def test_videomae_checkpoint_gives_the_backbone(tmp_path, capsys):
    sd = authors_state(6)
    vm = {k[len('feature.'):]: v.float() for k, v in sd.items()
          if k.startswith('feature.') and '.tam.' not in k
          and 'fc_norm2' not in k and not k.startswith('feature.temporal')}
    src, dst = str(tmp_path / 'vit_s.pth'), str(tmp_path / 'out.pth')
    torch.save({'module': vm}, src)
    assert tamt2mmext.main([src, dst]) == 0
    assert 'VideoMAE backbone' in capsys.readouterr().out
    state = torch.load(dst, map_location='cpu')['state_dict']
    assert all(k.startswith('backbone.') for k in state)
    torch.testing.assert_close(state['backbone.blocks.5.mlp.layers.1.weight'],
                               vm['blocks.5.mlp.fc2.weight'])


def test_bad_files(tmp_path, capsys):
    src = str(tmp_path / 'r50.pth')
    torch.save({'state_dict': {'layer1.0.conv1.weight': torch.zeros(1)}}, src)
    assert tamt2mmext.main([src, str(tmp_path / 'o.pth')]) == 1
    assert 'not a VideoMAE or TAMT checkpoint' in capsys.readouterr().err
    sd = authors_state(0)
    sd['feature.blocks.0.attn.extra.weight'] = torch.zeros(1)
    torch.save({'state': sd}, src)
    assert tamt2mmext.main([src, str(tmp_path / 'o.pth')]) == 1
    assert "blocks.0.attn.extra.weight' for TAMT" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tamt2mmext.main([])
