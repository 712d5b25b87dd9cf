"""tools/analysis_tools/dapl_digits.py end to end (digits -> inverted
digits): a small CLIP trained here with open_clip's ClipLoss, saved and
loaded back through open_clip, then DAPL through UDADataset, UDASampler,
UDADataPreprocessor and train_step. Short schedules (about 30 s)."""
import importlib.util
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'tools', 'analysis_tools', 'dapl_digits.py')


def test_dapl_digits_end_to_end(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('dapl_digits', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.main([
        '--threads', '1', '--clip-epochs', '6', '--dapl-epochs', '2',
        '--work-dir', str(tmp_path)
    ])
    assert osp.isfile(tmp_path / 'digits_clip.pt')
    # the zero-shot prompts mean something on both domains (10 classes:
    # chance is 10%), the inverted digits are the harder domain
    assert result['source_zero_shot'] > 70
    assert 25 < result['target_zero_shot'] < result['source_zero_shot']
    # the adapted target prompts classify the target and the source
    assert result['target_dapl'] > 25
    assert result['source_images_target_prompts'] > 60
    out = capsys.readouterr().out
    assert 'before adaptation' in out and 'after adaptation' in out
