"""Pose inference with our configs and a weights-only checkpoint: MMPose's
MMPoseInferencer, tools/demo/pose_demo.py and its dispatch from
tools/demo/image_demo.py; (slow) tools/train.py + tools/test.py on the pose
demo config and the whole pose demo, trained end to end."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config

from uniformer_mm.checkpoints import save_weights
from uniformer_mm.datasets import prepare_synthetic_data

ROOT = Path(__file__).resolve().parents[2]
POSE_CFG = ROOT / 'configs/pose/demo/td-hm_uniformer-tiny_synthetic.py'


def _load_tool(name, rel):
    spec = importlib.util.spec_from_file_location(name, ROOT / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


from uniformer_mm.apis import image_inference as image_demo  # noqa: E402
from uniformer_mm.apis import pose_inference as pose_demo  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """Small generated data and a weights-only checkpoint of a randomly
    initialised model, with the dataset metainfo as the tools save it."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, MODELS
    tmp = tmp_path_factory.mktemp('pose_inf')
    cfg = Config.fromfile(str(POSE_CFG))
    cfg.synthetic_data.update(num_train=2, num_val=3)
    prepare_synthetic_data(cfg, str(tmp / 'data'), verbose=False)
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    model.init_weights()
    meta = DATASETS.build(cfg.val_dataloader.dataset).metainfo
    weights = str(tmp / 'pose.pth')
    save_weights(model, weights, dataset_meta=meta)
    ckpt = torch.load(weights, map_location='cpu', weights_only=True)
    assert ckpt['meta']['dataset_meta']['dataset_name'] == 'coco'
    ds = cfg.test_dataloader.dataset
    img_dir = osp.join(ds.data_root, ds.data_prefix.img)
    return dict(
        cfg=cfg,
        weights=weights,
        img_dir=img_dir,
        ann_file=cfg.test_evaluator.ann_file,
        tmp=tmp)


def _people(ann_file, name):
    with open(ann_file) as f:
        coco = json.load(f)
    image_id = next(i['id'] for i in coco['images'] if i['file_name'] == name)
    return [a for a in coco['annotations'] if a['image_id'] == image_id]


def test_pose_visualizer_builds_without_torchvision():
    """MMPose's visualizer module imports torchvision only for SimCC
    drawing; uniformer_mm stands in for that module when torchvision is
    missing (as on CPU machines here), and the stand-in says why it cannot
    draw SimCC heatmaps."""
    import importlib.util

    from mmpose.visualization import PoseLocalVisualizer, simcc_vis
    visualizer = PoseLocalVisualizer(name='test_pose_vis')
    visualizer.set_image(np.full((8, 6, 3), 7, np.uint8))
    drawn = visualizer.get_image()
    assert drawn.shape == (8, 6, 3) and (drawn == 7).all()
    if importlib.util.find_spec('torchvision') is None:
        with pytest.raises(RuntimeError, match='torchvision'):
            simcc_vis.SimCCVisualizer().draw_instance_xy_heatmap


def test_mmpose_inferencer_with_our_config(demo, tmp_path):
    """MMPose's own MMPoseInferencer runs the demo config and our weights
    (whole image as the person box) and writes a drawing and a json."""
    from mmpose.apis import MMPoseInferencer
    inferencer = MMPoseInferencer(
        pose2d=str(POSE_CFG),
        pose2d_weights=demo['weights'],
        det_model='whole_image',
        device='cpu')
    image = osp.join(demo['img_dir'], '000000.jpg')
    (result, ) = list(
        inferencer(
            image,
            vis_out_dir=str(tmp_path / 'vis'),
            pred_out_dir=str(tmp_path / 'preds')))
    (person, ) = result['predictions'][0]
    assert np.asarray(person['keypoints']).shape == (17, 2)
    assert len(person['keypoint_scores']) == 17
    drawn = cv2.imread(str(tmp_path / 'vis' / '000000.jpg'))
    assert drawn is not None and drawn.shape[:2] == (128, 128)
    saved = json.loads((tmp_path / 'preds' / '000000.json').read_text())
    assert len(saved) == 1 and len(saved[0]['keypoints']) == 17


def test_pose_demo_with_ground_truth_boxes(demo, tmp_path):
    out = pose_demo.run_pose_inference(
        demo['img_dir'],
        demo['cfg'],
        demo['weights'],
        out_dir=str(tmp_path / 'out'),
        ground_truth=demo['ann_file'],
        kpt_thr=0.0)
    assert out['task'] == 'pose'
    assert [osp.basename(p) for p in out['images']
            ] == ['000000.jpg', '000001.jpg', '000002.jpg']
    for path, vis, pred in zip(out['images'], out['vis_files'],
                               out['predictions']):
        people = _people(demo['ann_file'], osp.basename(path))
        # one pose per annotated person, in its box
        assert len(pred['bboxes']) == len(people) > 0
        kps = np.asarray(pred['keypoints'])
        assert kps.shape == (len(people), 17, 2)
        assert np.asarray(pred['keypoint_scores']).shape == (len(people), 17)
        for box, person in zip(pred['bboxes'], people):
            x, y, w, h = person['bbox']
            np.testing.assert_allclose(box, [x, y, x + w, y + h], atol=1)
        # ground truth on the left, prediction on the right, upscaled
        assert cv2.imread(vis).shape == (384, 768, 3)
        stem = osp.splitext(osp.basename(path))[0]
        saved = json.loads(
            (tmp_path / 'out' / 'preds' / f'{stem}.json').read_text())
        assert saved['bboxes'] == pred['bboxes']


def test_pose_demo_whole_image_and_cli(demo, tmp_path, capsys):
    image = osp.join(demo['img_dir'], '000001.jpg')
    pose_demo.main([
        image,
        str(POSE_CFG), '--weights', demo['weights'], '--out-dir',
        str(tmp_path / 'cli'), '--vis-scale', '1'
    ])
    printed = capsys.readouterr().out
    assert '000001.jpg: 1 person(s)' in printed
    pred = json.loads((tmp_path / 'cli' / 'preds' / '000001.json').read_text())
    assert pred['bboxes'] == [[0.0, 0.0, 128.0, 128.0]]  # the whole image
    assert cv2.imread(str(tmp_path / 'cli' / 'vis' /
                          '000001.jpg')).shape == (128, 128, 3)
    with pytest.raises(SystemExit):
        pose_demo.parse_args([str(POSE_CFG)])  # no image


def test_image_demo_hands_pose_configs_to_pose_demo(demo, tmp_path):
    image = osp.join(demo['img_dir'], '000002.jpg')
    out = image_demo.run_inference(
        image,
        str(POSE_CFG),
        demo['weights'],
        out_dir=str(tmp_path / 'out'),
        ground_truth=demo['ann_file'])
    assert out['task'] == 'pose'
    assert len(out['predictions'][0]['bboxes']) == len(
        _people(demo['ann_file'], '000002.jpg'))
    assert osp.isfile(out['vis_files'][0])
    with pytest.raises(ValueError, match='mmpose'):
        image_demo._task_of(Config(dict(default_scope='mmpretrain')))


def test_pose_demo_refuses_other_configs():
    det = (
        ROOT / 'configs/detection/demo/'
        'mask-rcnn_uniformer-tiny_fpn_synthetic.py')
    with pytest.raises(ValueError, match='not an MMPose config'):
        pose_demo.build_pose_inferencer(str(det))


def _env():
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = str(ROOT) + os.pathsep + env.get('PYTHONPATH', '')
    return env


# a few images, a few iterations: this is about the tools, not learning
SMALL = [
    'synthetic_data.num_train=8',
    'synthetic_data.num_val=3',
    'train_cfg.max_iters=4',
    'train_cfg.val_interval=4',
    'default_hooks.checkpoint.interval=4',
    'train_dataloader.batch_size=4',
    'train_dataloader.num_workers=0',
    'val_dataloader.num_workers=0',
    'test_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.persistent_workers=False',
]


@pytest.mark.slow
def test_train_and_test_tools_on_pose_config(tmp_path):
    """tools/train.py trains the pose demo config (data generated on first
    use), writes a weights-only checkpoint; tools/test.py evaluates it with
    CocoMetric and draws with --show-dir."""
    work_dir = tmp_path / 'work'
    result = subprocess.run([
        sys.executable,
        str(ROOT / 'tools/train.py'),
        str(POSE_CFG), '--work-dir',
        str(work_dir), '--cfg-options', *SMALL
    ],
                            cwd=tmp_path,
                            env=_env(),
                            capture_output=True,
                            text=True,
                            timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert 'coco/AP' in log
    ckpt = torch.load(
        work_dir / 'iter_4.pth', map_location='cpu', weights_only=True)
    assert ckpt['meta']['iter'] == 4
    assert any(k.startswith('backbone.blocks3.') for k in ckpt['state_dict'])
    assert any(k.startswith('head.final_layer') for k in ckpt['state_dict'])
    result = subprocess.run([
        sys.executable,
        str(ROOT / 'tools/test.py'),
        str(POSE_CFG),
        str(work_dir / 'iter_4.pth'), '--work-dir',
        str(tmp_path / 'test'), '--show-dir', 'vis', '--cfg-options', *SMALL
    ],
                            cwd=tmp_path,
                            env=_env(),
                            capture_output=True,
                            text=True,
                            timeout=900)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    assert 'coco/AP' in log
    assert list((tmp_path / 'test').rglob('vis/*.jpg'))


@pytest.mark.slow
def test_run_demo_pose_end_to_end(tmp_path):
    run_demo = _load_tool('run_demo', 'tools/demo/run_demo.py')
    args = run_demo.parse_args([
        '--task', 'pose', '--work-dir',
        str(tmp_path / 'work'), '--data-root',
        str(tmp_path / 'data'), '--max-iters', '4', '--num-vis', '2',
        '--threads', '1', '--cfg-options', 'synthetic_data.num_train=16',
        'synthetic_data.num_val=4', 'train_dataloader.batch_size=4'
    ])
    summary = run_demo.run_demo(args)
    assert 'coco/AP' in summary['metrics']
    assert 0 <= summary['headline']['coco/AP'] <= 1
    assert len(summary['vis']) == 2 and all(map(osp.isfile, summary['vis']))
    meta = torch.load(summary['weights'], weights_only=True)['meta']
    assert meta['iters'] == 4
    assert meta['dataset_meta']['dataset_name'] == 'coco'
