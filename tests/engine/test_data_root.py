"""--data-root moves every data path, the evaluators' included; the
pre-flight check names the evaluator's file and the switch that works; the
missing-checkpoint messages name the file kind and a switch that works."""
import importlib.util

import pytest
from conftest import CONFIGS, ROOT
from mmengine.config import Config

from uniformer_mm.datasets.paths import rebase_paths, set_data_root
from uniformer_mm.engine import check_checkpoint_paths, check_dataset_paths

DET_TEMPLATE = (
    CONFIGS / 'detection' / 'custom' /
    'mask-rcnn_uniformer-xxs_fpn_1x_custom-coco.py')


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        f'{name}_tool', ROOT / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _coco_layout(root):
    (root / 'annotations').mkdir(parents=True)
    for split in ('train', 'val'):
        (root / 'annotations' / f'{split}.json').write_text('{}')
        (root / split).mkdir()


@pytest.fixture(scope='module')
def template():
    return Config.fromfile(str(DET_TEMPLATE))


def test_rebase_replaces_the_prefix_only():
    node = dict(
        data_root='data/a/',
        ann_file='data/a/x.json',
        other='data/a/not-a-path-key',
        data_prefix=dict(img='data/ab/img/'),
        nested=[dict(bbox_file='data/a/b.json', ann_file='rel.json')])
    rebase_paths(node, 'data/a/', '/new')
    assert node == dict(
        data_root='/new/',
        ann_file='/new/x.json',
        other='data/a/not-a-path-key',
        data_prefix=dict(img='data/ab/img/'),  # another folder
        nested=[dict(bbox_file='/new/b.json', ann_file='rel.json')])


def test_test_tool_data_root_moves_the_evaluator_too(tmp_path, template):
    data = tmp_path / 'elsewhere' / 'my_coco'
    _coco_layout(data)
    checkpoint = tmp_path / 'epoch_1.pth'
    checkpoint.write_bytes(b'')
    test = _tool('test')
    args = test.parse_args([
        str(DET_TEMPLATE),
        str(checkpoint), '--work-dir',
        str(tmp_path), '--data-root',
        str(data)
    ])
    cfg = test.build_config(args)
    for split in ('train', 'val', 'test'):
        assert cfg[f'{split}_dataloader'].dataset.data_root == f'{data}/'
    assert cfg.val_evaluator.ann_file == f'{data}/annotations/val.json'
    assert cfg.test_evaluator.ann_file == f'{data}/annotations/val.json'
    check_dataset_paths(cfg)  # every path, evaluators' included, exists


def test_preflight_names_the_evaluator_file_and_the_switch(tmp_path, template):
    """The old advice (override each dataset's data_root) leaves the
    evaluator on the old root: the check now says so before any Runner."""
    data = tmp_path / 'my_coco'
    _coco_layout(data)
    cfg = template.copy()
    for split in ('train', 'val', 'test'):
        cfg[f'{split}_dataloader'].dataset.data_root = str(data)
    with pytest.raises(FileNotFoundError) as info:
        check_dataset_paths(cfg, splits=('test', ))
    message = str(info.value)
    assert 'test_evaluator.ann_file: data/my_coco/annotations/val.json' in \
        message
    assert "--data-root PATH (replaces data_root 'data/my_coco/'" in message
    set_data_root(cfg, str(data))
    check_dataset_paths(cfg)


def test_missing_whole_model_checkpoint_names_load_from_none(template):
    with pytest.raises(FileNotFoundError) as info:
        check_checkpoint_paths(template)
    message = str(info.value)
    assert "load_from = 'checkpoints/mask-rcnn_uniformer-xxs_fpn_1x_coco_" \
        "converted.pth': a whole-model checkpoint" in message
    assert '--cfg-options load_from=None (the whole model then starts ' \
        'from random weights)' in message
    assert 'ImageNet' not in message
    # the switch it names works
    cfg = template.copy()
    cfg.merge_from_dict({'load_from': None})
    check_checkpoint_paths(cfg)


def test_imagenet_start_names_the_backbone_file(tmp_path):
    config = tmp_path / 'my_det.py'
    config.write_text(DET_TEMPLATE.read_text().replace(
        "start_from = 'coco'", "start_from = 'imagenet'"))
    cfg = Config.fromfile(str(config))
    assert cfg.load_from is None
    with pytest.raises(FileNotFoundError) as info:
        check_checkpoint_paths(cfg)
    message = str(info.value)
    assert "model.backbone.init_cfg.checkpoint = 'checkpoints/uniformer_" \
        "xxs_224_in1k.pth': backbone weights (the official ImageNet" in \
        message
    assert '--cfg-options model.backbone.init_cfg=None' in message
    cfg.merge_from_dict({'model.backbone.init_cfg': None})
    check_checkpoint_paths(cfg)
