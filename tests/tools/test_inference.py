"""Inference with the demo configs: DetInferencer / MMSegInferencer driven by
our configs and a weights-only checkpoint (tools/demo/image_demo.py), and
(slow) the whole demo, trained end to end."""
import importlib.util
import json
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from uniformer_mm.checkpoints import save_weights
from uniformer_mm.datasets import (SEG_CLASSES, SHAPE_CLASSES,
                                   prepare_synthetic_data)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / 'configs'
DET_CFG = DEMO / 'detection/demo/mask-rcnn_uniformer-tiny_fpn_synthetic.py'
SEG_CFG = DEMO / 'segmentation/demo/fpn_uniformer-tiny_synthetic.py'


def _load_tool(name, rel):
    spec = importlib.util.spec_from_file_location(name, ROOT / rel)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


from uniformer_mm.apis import image_inference as image_demo  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _random_weights(cfg, scope, path):
    """A weights-only checkpoint of a randomly initialised model."""
    from mmengine.registry import init_default_scope
    init_default_scope(scope)
    registry = importlib.import_module(f'{scope}.registry').MODELS
    model = registry.build(cfg.model)
    model.init_weights()
    meta = cfg.test_dataloader.dataset.metainfo
    save_weights(
        model,
        str(path),
        dataset_meta=dict(
            classes=tuple(meta.classes), palette=list(meta.palette)),
        config=cfg.pretty_text)
    # what the inferencers (and torch's default) do: weights-only
    ckpt = torch.load(str(path), map_location='cpu', weights_only=True)
    assert ckpt['meta']['dataset_meta']['classes'] == tuple(meta.classes)
    return str(path)


def _val_image(cfg):
    ds = cfg.test_dataloader.dataset
    prefix = ds.data_prefix.get('img') or ds.data_prefix.get('img_path')
    return osp.join(ds.data_root, prefix, '000000.jpg')


def test_detection_inferencer(tmp_path):
    cfg = Config.fromfile(str(DET_CFG))
    cfg.synthetic_data.update(num_train=1, num_val=2)
    prepare_synthetic_data(cfg, str(tmp_path / 'data'), verbose=False)
    weights = _random_weights(cfg, 'mmdet', tmp_path / 'det.pth')
    image = _val_image(cfg)
    out = image_demo.run_inference(
        image,
        str(DET_CFG),
        weights,
        out_dir=str(tmp_path / 'out'),
        score_thr=0.0)
    assert out['task'] == 'detection'
    vis = Path(out['vis_files'][0])
    assert vis == tmp_path / 'out' / 'vis' / '000000.jpg'
    assert vis.is_file() and vis.stat().st_size > 0
    import cv2

    # small images are drawn upscaled (short side >= 384 px)
    assert cv2.imread(str(vis)).shape == (384, 384, 3)
    (pred, ) = out['predictions']
    assert {'labels', 'scores', 'bboxes', 'masks'} <= set(pred)
    n = len(pred['labels'])
    assert len(pred['scores']) == len(pred['bboxes']) == len(
        pred['masks']) == n
    assert n <= cfg.model.test_cfg.rcnn.max_per_img
    assert all(0 <= lab < len(SHAPE_CLASSES) for lab in pred['labels'])
    assert all(len(b) == 4 for b in pred['bboxes'])
    assert all({'size', 'counts'} <= set(m) for m in pred['masks'])
    saved = tmp_path / 'out' / 'preds' / '000000.json'
    assert json.loads(saved.read_text())['labels'] == pred['labels']
    # ground truth on the left, at the original scale
    gt = image_demo.run_inference(
        image,
        str(DET_CFG),
        weights,
        out_dir=str(tmp_path / 'gt'),
        ground_truth=cfg.test_evaluator.ann_file,
        vis_scale=1)
    assert cv2.imread(gt['vis_files'][0]).shape == (128, 256, 3)


def test_segmentation_inferencer(tmp_path):
    cfg = Config.fromfile(str(SEG_CFG))
    cfg.synthetic_data.update(num_train=1, num_val=2)
    prepare_synthetic_data(cfg, str(tmp_path / 'data'), verbose=False)
    weights = _random_weights(cfg, 'mmseg', tmp_path / 'seg.pth')
    image = _val_image(cfg)
    out = image_demo.run_inference(
        image, cfg, weights, out_dir=str(tmp_path / 'out'))
    assert out['task'] == 'segmentation'
    vis = Path(out['vis_files'][0])
    assert vis.is_file() and vis.stat().st_size > 0
    (pred, ) = out['predictions']
    sem = np.asarray(pred['sem_seg'])
    assert sem.shape == (128, 128)
    assert sem.min() >= 0 and sem.max() < len(SEG_CLASSES)
    label = tmp_path / 'out' / 'preds' / '000000.png'
    import cv2
    np.testing.assert_array_equal(
        cv2.imread(str(label), cv2.IMREAD_UNCHANGED), sem)
    ds = cfg.test_dataloader.dataset
    gt = image_demo.run_inference(
        image,
        cfg,
        weights,
        out_dir=str(tmp_path / 'gt'),
        ground_truth=osp.join(ds.data_root, ds.data_prefix.seg_map_path))
    assert cv2.imread(gt['vis_files'][0]).shape == (384, 768, 3)
    # weights that do not fit in full are refused unless allowed
    partial = torch.load(weights)
    dropped = sorted(partial['state_dict'])[0]
    del partial['state_dict'][dropped]
    partial['state_dict']['extra.weight'] = torch.zeros(1)
    torch.save(partial, tmp_path / 'partial.pth')
    from uniformer_mm.checkpoints import CheckpointMismatchError
    with pytest.raises(CheckpointMismatchError) as error:
        image_demo.build_inferencer(cfg, str(tmp_path / 'partial.pth'))
    assert dropped in str(error.value) and 'extra.weight' in str(error.value)
    assert image_demo.build_inferencer(
        cfg, str(tmp_path / 'partial.pth'),
        allow_partial_checkpoint=True).task == 'segmentation'
    # the predictions come from the weights file given: a classifier bias
    # of +100 for one class makes every pixel that class
    biased = torch.load(weights)
    (bias_key, ) = [
        k for k in biased['state_dict'] if k.endswith('conv_seg.bias')
    ]
    biased['state_dict'][bias_key].zero_()[3] = 100.
    torch.save(biased, tmp_path / 'biased.pth')
    assert (sem != 3).any()
    out = image_demo.run_inference(
        image,
        cfg,
        str(tmp_path / 'biased.pth'),
        out_dir=str(tmp_path / 'biased'))
    assert (np.asarray(out['predictions'][0]['sem_seg']) == 3).all()


def test_image_demo_cli(tmp_path, capsys):
    """The command line: a directory of images, no weights (random init)."""
    cfg = Config.fromfile(str(SEG_CFG))
    cfg.synthetic_data.update(num_train=1, num_val=2)
    prepare_synthetic_data(cfg, str(tmp_path / 'data'), verbose=False)
    img_dir = osp.dirname(_val_image(cfg))
    image_demo.main(
        [img_dir, str(SEG_CFG), '--out-dir',
         str(tmp_path / 'out')])
    printed = capsys.readouterr().out
    assert '000001.jpg' in printed
    assert sorted(p.name for p in (tmp_path / 'out' / 'vis').iterdir()) == [
        '000000.jpg', '000001.jpg'
    ]
    with pytest.raises(SystemExit):
        image_demo.parse_args([str(SEG_CFG)])  # no image


@pytest.mark.slow
@pytest.mark.parametrize('task', ['detection', 'segmentation'])
def test_run_demo_end_to_end(tmp_path, task):
    """A few training iterations, evaluation with the real evaluator on the
    in-memory model, weights-only weights, drawings."""
    run_demo = _load_tool('run_demo', 'tools/demo/run_demo.py')
    args = run_demo.parse_args([
        '--task', task, '--work-dir',
        str(tmp_path / 'work'), '--data-root',
        str(tmp_path / 'data'), '--max-iters', '4', '--num-vis', '2',
        '--cfg-options', 'synthetic_data.num_train=16',
        'synthetic_data.num_val=8', 'train_dataloader.batch_size=2'
    ])
    summary = run_demo.run_demo(args)
    keys = run_demo.HEADLINE[task]
    assert keys[0] in summary['metrics']
    assert len(summary['vis']) == 2 and all(map(osp.isfile, summary['vis']))
    assert torch.load(
        summary['weights'], weights_only=True)['meta']['iters'] == 4
    assert osp.isfile(tmp_path / 'work' / 'demo_summary.json')
