"""tools/demo/video_demo.py (MMAction2 inference_recognizer on .mp4 files,
drawn result) and the video demo config through tools/train.py,
tools/test.py and tools/demo/run_demo.py."""
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from uniformer_mm.checkpoints import load_checkpoint_file, save_weights
from uniformer_mm.datasets import prepare_synthetic_data

ROOT = Path(__file__).resolve().parents[2]
VIDEO_CFG = ROOT / 'configs/video/demo/uniformer3d-tiny_synthetic-video.py'
from uniformer_mm.apis import video_inference as video_demo  # noqa: E402

SMALL_DATA = dict(num_train=8, num_val=4, num_frames=8)
# a few clips, a few iterations: this is about the tools, not learning
SMALL = [
    'synthetic_data.num_train=8', 'synthetic_data.num_val=4',
    'synthetic_data.num_frames=8', 'train_cfg.max_iters=4',
    'train_cfg.val_interval=4', 'default_hooks.checkpoint.interval=4',
    'train_dataloader.batch_size=2', 'val_dataloader.batch_size=2',
    'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.persistent_workers=False'
]


@pytest.fixture(scope='module')
def small_cfg(tmp_path_factory):
    cfg = Config.fromfile(str(VIDEO_CFG))
    cfg.synthetic_data.update(SMALL_DATA)
    prepare_synthetic_data(
        cfg, str(tmp_path_factory.mktemp('video') / 'd'), verbose=False)
    return cfg


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _decode(path):
    import av
    with av.open(str(path)) as container:
        return np.stack(
            [f.to_ndarray(format='rgb24') for f in container.decode(video=0)])


def test_video_demo_draws_and_predicts(small_cfg, tmp_path, one_thread):
    root = small_cfg.data_root
    val_list = os.path.join(root, 'val_list.txt')
    out = video_demo.run_video_inference(
        os.path.join(root, 'videos', 'val'),
        small_cfg,
        out_dir=str(tmp_path / 'out'),
        ground_truth=val_list,
        vis_scale=3)
    assert len(out['videos']) == len(out['vis_files']) == 4
    for i, (vis, pred) in enumerate(zip(out['vis_files'], out['predictions'])):
        assert pred['gt_label'] == i % 4  # from the list
        assert len(pred['scores']) == 4
        assert abs(sum(pred['scores']) - 1) < 1e-3  # average_clips='prob'
        assert pred['label'] == int(np.argmax(pred['scores']))
        assert pred['class'] == ('left', 'right', 'up', 'down')[pred['label']]
        # every frame, upscaled 3x, with a text banner below
        frames = _decode(vis)
        assert frames.shape[0] == 8
        assert frames.shape[2] == 64 * 3 and frames.shape[1] > 64 * 3
        banner = frames[:, 64 * 3 + 2:]
        assert banner.max() > 150  # text was drawn
        saved = json.loads(
            (tmp_path / 'out' / 'preds' / f'{i:06d}.json').read_text())
        assert saved['label'] == pred['label']
    assert all(Path(f).stat().st_size > 0 for f in out['strip_files'])


def test_video_demo_loads_the_weights(small_cfg, tmp_path, one_thread):
    """Predictions with --weights are those of the saved model (a different
    random init), read weights-only, with the class names of its meta."""
    from mmaction.apis import inference_recognizer
    torch.manual_seed(123)
    trained = video_demo.build_recognizer(small_cfg)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    weights = save_weights(
        trained,
        str(tmp_path / 'w.pth'),
        dataset_meta=dict(classes=('L', 'R', 'U', 'D')))
    assert load_checkpoint_file(weights)['meta']['dataset_meta']
    video = os.path.join(small_cfg.data_root, 'videos', 'val', '000002.mp4')
    expected = inference_recognizer(trained, video).pred_score
    torch.manual_seed(0)
    out = video_demo.run_video_inference(
        video, small_cfg, weights, out_dir=str(tmp_path / 'out'))
    pred = out['predictions'][0]
    np.testing.assert_allclose(pred['scores'], expected.numpy(), atol=1e-4)
    assert pred['class'] == 'LRUD'[pred['label']]
    torch.manual_seed(0)
    random_init = video_demo.run_video_inference(
        video, small_cfg, None, out_dir=str(tmp_path / 'rand'))
    assert not np.allclose(
        random_init['predictions'][0]['scores'], pred['scores'], atol=1e-3)


def test_video_demo_cli(small_cfg, tmp_path, capsys, one_thread):
    video = os.path.join(small_cfg.data_root, 'videos', 'val', '000001.mp4')
    cfg_file = tmp_path / 'cfg.py'
    small_cfg.dump(str(cfg_file))
    out = video_demo.main(
        [video, str(cfg_file), '--out-dir',
         str(tmp_path / 'o')])
    assert Path(out['vis_files'][0]).is_file()
    assert '000001.mp4' in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match='no such video'):
        video_demo.main([str(tmp_path / 'missing.mp4'), str(cfg_file)])


def _env():
    env = dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = str(ROOT) + os.pathsep + env.get('PYTHONPATH', '')
    return env


@pytest.mark.slow
def test_train_and_test_tools_run_the_video_demo_config(tmp_path):
    """tools/train.py then tools/test.py on the demo config (tiny data):
    weights-only checkpoint, AccMetric top-1 from the test tool."""
    # data_root is relative: the data is generated under tmp_path (cwd)
    data = ['--cfg-options', *SMALL]
    work_dir = tmp_path / 'work'
    result = subprocess.run([
        sys.executable,
        str(ROOT / 'tools/train.py'),
        str(VIDEO_CFG), '--work-dir',
        str(work_dir), *data
    ],
                            cwd=tmp_path,
                            env=_env(),
                            capture_output=True,
                            text=True,
                            timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert 'acc/top1' in log  # validated at iteration 4
    ckpt = load_checkpoint_file(work_dir / 'iter_4.pth')
    assert ckpt['meta']['iter'] == 4
    assert any(k.startswith('backbone.blocks3.') for k in ckpt['state_dict'])
    result = subprocess.run([
        sys.executable,
        str(ROOT / 'tools/test.py'),
        str(VIDEO_CFG),
        str(work_dir / 'iter_4.pth'), '--work-dir',
        str(tmp_path / 'test'), *data
    ],
                            cwd=tmp_path,
                            env=_env(),
                            capture_output=True,
                            text=True,
                            timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert 'acc/top1' in log


@pytest.mark.slow
def test_run_demo_video_task(tmp_path):
    """The one-command demo for the video task: data, training, evaluation,
    weights-only file, drawn val videos."""
    result = subprocess.run([
        sys.executable,
        str(ROOT / 'tools/demo/run_demo.py'), '--task', 'video', '--work-dir',
        str(tmp_path / 'demo'), '--data-root',
        str(tmp_path / 'data'), '--max-iters', '4', '--threads', '1',
        '--num-vis', '2', '--cfg-options', *SMALL
    ],
                            cwd=tmp_path,
                            env=_env(),
                            capture_output=True,
                            text=True,
                            timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    summary = json.loads((tmp_path / 'demo' / 'demo_summary.json').read_text())
    assert summary['task'] == 'video' and summary['max_iters'] == 4
    assert 0 <= summary['headline']['acc/top1'] <= 1
    assert len(summary['vis']) == 2
    assert all(_decode(v).shape[0] == 8 for v in summary['vis'])
    meta = load_checkpoint_file(summary['weights'])['meta']
    assert tuple(meta['dataset_meta']['classes']) == ('left', 'right', 'up',
                                                      'down')


def test_video_demo_reports_probabilities_for_logit_averaging_configs(
        small_cfg, tmp_path, one_thread):
    """The zoo configs average logits over views (average_clips='score', as
    the official test); the demo still reports probabilities."""
    from mmaction.apis import inference_recognizer
    cfg = copy.deepcopy(small_cfg)
    cfg.model.cls_head.average_clips = 'score'
    torch.manual_seed(0)
    model = video_demo.build_recognizer(cfg)
    video = os.path.join(cfg.data_root, 'videos', 'val', '000000.mp4')
    logits = inference_recognizer(model, video).pred_score.float()
    assert abs(float(logits.sum()) - 1) > 1e-3  # not probabilities
    out = video_demo.run_video_inference(
        video, cfg, out_dir=str(tmp_path / 'out'), model=model)
    pred = out['predictions'][0]
    expected = logits.softmax(0)
    assert pred['scores'] == pytest.approx(expected.tolist(), abs=1e-4)
    assert pred['label'] == int(expected.argmax())
