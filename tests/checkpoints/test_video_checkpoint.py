"""Official SlowFast video checkpoints as whole MMAction2 recognizers.

uniformer_mm.checkpoints.video renames ``model_state`` files to
``backbone.*`` / ``cls_head.fc_cls.*`` and reorders the classifier rows from
the official class order to a dataset's (the Kinetics label files differ).
"""
import copy
import os.path as osp
import subprocess
import sys

import pytest
import torch
from conftest import randomize_
from mmengine.config import Config
from mmengine.registry import DefaultScope

from uniformer_mm.checkpoints import load_checkpoint_file
from uniformer_mm.checkpoints.video import (build_label_remap,
                                            convert_slowfast_to_recognizer,
                                            normalize_class_name,
                                            read_class_names,
                                            remap_from_label_files)
from uniformer_mm.models import ARCH_ZOO_3D

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
K400_S16X4 = osp.join(
    ROOT, 'configs/video/'
    'uniformer-s_imagenet1k-pre_8xb4-16x4x1-110e_kinetics400-rgb.py')
CONVERTER = osp.join(ROOT, 'tools/convert_official.py')


def _recognizer(num_classes=400, arch='small'):
    from mmaction.registry import MODELS
    from mmaction.utils import register_all_modules
    cfg = copy.deepcopy(Config.fromfile(K400_S16X4).model)
    cfg.backbone.init_cfg = None
    cfg.backbone.arch = arch
    cfg.cls_head.in_channels = ARCH_ZOO_3D[arch]['embed_dims'][3]
    cfg.cls_head.num_classes = num_classes
    cfg.data_preprocessor.pop('blending')
    register_all_modules(init_default_scope=False)
    with DefaultScope.overwrite_default_scope('mmaction'):
        return MODELS.build(cfg).eval()


def _official_file(model, perm=None):
    """What the official code saves for the weights of ``model``: the
    backbone at top level, the classifier as ``head`` (rows in the official
    order, i.e. permuted by ``perm``)."""
    state = {
        k[len('backbone.'):]: v.clone()
        for k, v in model.state_dict().items() if k.startswith('backbone.')
    }
    weight = model.cls_head.fc_cls.weight.detach().clone()
    bias = model.cls_head.fc_cls.bias.detach().clone()
    if perm is not None:
        inverse = torch.argsort(perm)  # official row j = dataset class perm[j]
        weight, bias = weight[perm], bias[perm]
        assert torch.equal(weight[inverse], model.cls_head.fc_cls.weight)
    state['head.weight'], state['head.bias'] = weight, bias
    return {'model_state': state, 'epoch': 110, 'cfg': 'HEAD_DIM: 64'}


def test_official_keys_map_onto_the_recognizer(official_keys):
    """The recorded keys/shapes of the official video model convert into
    exactly the state dict of our S recognizer with a 400-class I3DHead."""
    official = {
        k: torch.zeros(shape)
        for k, shape in official_keys['video_small'].items()
    }
    converted = convert_slowfast_to_recognizer({'model_state': official},
                                               num_classes=400)
    ours = _recognizer().state_dict()
    assert set(converted) == set(ours)
    for k, v in converted.items():
        assert v.shape == ours[k].shape, k


def test_saved_file_round_trip_loads_strictly(tmp_path):
    model = randomize_(_recognizer(num_classes=10, arch='test'))
    path = str(tmp_path / 'official.pth')
    torch.save(_official_file(model), path)
    converted = convert_slowfast_to_recognizer(load_checkpoint_file(path))
    fresh = _recognizer(num_classes=10, arch='test')
    fresh.load_state_dict(converted, strict=True)
    for k, v in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v), k


def test_synthetic_permutation_gives_the_same_predictions():
    """A model whose classifier rows are in another class order (as the
    official K400 files are) predicts the same classes as the reference
    once remapped by the two class-name lists -- and wrong ones without."""
    num_classes = 12
    reference = randomize_(_recognizer(num_classes, arch='test'))
    dataset_classes = [f'class {i}' for i in range(num_classes)]
    perm = torch.randperm(num_classes)
    while (perm == torch.arange(num_classes)).any():
        perm = torch.randperm(num_classes)  # every class moves, as in K400
    # the checkpoint's row j is dataset class perm[j], spelt officially
    checkpoint_classes = [
        dataset_classes[j].replace(' ', '_') for j in perm.tolist()
    ]
    official = _official_file(reference, perm)

    remap = build_label_remap(checkpoint_classes, dataset_classes)
    assert torch.equal(remap, torch.argsort(perm))
    remapped = _recognizer(num_classes, arch='test')
    remapped.load_state_dict(
        convert_slowfast_to_recognizer(official, remap), strict=True)
    as_is = _recognizer(num_classes, arch='test')
    as_is.load_state_dict(
        convert_slowfast_to_recognizer(official), strict=True)

    clips = torch.randn(4, 3, 4, 64, 64)  # N, C, T, H, W

    def scores(model):
        return model.cls_head(model.backbone(clips))

    with torch.no_grad():
        want, got, raw = scores(reference), scores(remapped), scores(as_is)
    assert want.shape == (4, num_classes)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert torch.equal(got.argmax(1), want.argmax(1))
    # the un-remapped head gives class perm[j]'s score to class j
    torch.testing.assert_close(raw, want[:, perm], rtol=1e-5, atol=1e-6)
    assert not torch.equal(raw.argmax(1), want.argmax(1))


def test_label_files_in_both_official_layouts(tmp_path):
    # official Kinetics style: "<name> <index>", split over two files
    (tmp_path / 'common.list').write_text('massaging_persons_head 2\n'
                                          'abseiling 0\n')
    (tmp_path / 'special.list').write_text('passing_American_football_(in_'
                                           'game) 1\n')
    (tmp_path / 'tab.txt').write_text('riding a bike\t1\nmarching\t0\n')
    (tmp_path / 'plain.txt').write_text(
        "abseiling\npassing American football (in game)\n"
        "massaging person's head\n")
    official = read_class_names(
        [str(tmp_path / 'common.list'),
         str(tmp_path / 'special.list')])
    assert official == [
        'abseiling', 'passing_American_football_(in_game)',
        'massaging_persons_head'
    ]
    assert read_class_names(str(tmp_path /
                                'tab.txt')) == ['marching', 'riding a bike']
    plain = read_class_names(str(tmp_path / 'plain.txt'))
    assert plain[2] == "massaging person's head"
    assert remap_from_label_files(
        [str(tmp_path / 'common.list'),
         str(tmp_path / 'special.list')],
        str(tmp_path / 'plain.txt')).tolist() == [0, 1, 2]
    assert normalize_class_name('Putting [something] on a surface') == (
        normalize_class_name('putting something on a surface'))


def test_remap_errors_name_the_problem():
    with pytest.raises(ValueError, match='400 classes and the dataset 600'):
        build_label_remap(['a'] * 400, [str(i) for i in range(600)])
    with pytest.raises(ValueError, match=r"not in the checkpoint.*'zorbing'"):
        build_label_remap(['abseiling', 'archery'], ['abseiling', 'zorbing'])
    with pytest.raises(ValueError, match='not in the checkpoint'):
        build_label_remap(['a_b', 'c'], ['a b', 'c'], normalize=False)
    with pytest.raises(ValueError, match='repeats'):
        build_label_remap(['a', 'b'], ['a', 'a'])


def test_convert_errors_name_the_problem():
    model = _recognizer(num_classes=10, arch='test')
    official = _official_file(model)
    with pytest.raises(
            ValueError, match='head has 10 classes.*num_classes=400'):
        convert_slowfast_to_recognizer(official, num_classes=400)
    with pytest.raises(ValueError, match='permutation of 0..9'):
        convert_slowfast_to_recognizer(official, torch.arange(400))
    with pytest.raises(ValueError, match='permutation of 0..9'):
        convert_slowfast_to_recognizer(official, [0] * 10)
    no_head = {
        k: v
        for k, v in official['model_state'].items()
        if not k.startswith('head.')
    }
    with pytest.raises(ValueError, match='no classifier'):
        convert_slowfast_to_recognizer({'model_state': no_head})
    with pytest.raises(ValueError, match="not a SlowFast video checkpoint"):
        convert_slowfast_to_recognizer({'state_dict': {}})
    extra = dict(official['model_state'])
    extra['pre_logits.fc.weight'] = torch.zeros(2, 2)
    with pytest.raises(ValueError, match='neither UniFormer backbone'):
        convert_slowfast_to_recognizer({'model_state': extra})


def test_converter_tool_writes_a_loadable_remapped_file(tmp_path):
    """tools/convert_official.py: official file + two label files ->
    weights-only file whose head rows are in the dataset order; the config's
    recognizer loads it strictly."""
    reference = randomize_(_recognizer(num_classes=400))
    names = [f'action {i:03d}' for i in range(400)]
    perm = torch.randperm(400)
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'ours.pth')
    torch.save(_official_file(reference, perm), src)
    (tmp_path / 'official.txt').write_text(''.join(
        f'{names[j]}\t{i}\n' for i, j in enumerate(perm.tolist())))
    (tmp_path / 'mmaction.txt').write_text(''.join(n + '\n' for n in names))
    result = subprocess.run([
        sys.executable, CONVERTER, src, dst, '--config', K400_S16X4,
        '--label-map',
        str(tmp_path / 'official.txt'),
        str(tmp_path / 'mmaction.txt')
    ],
                            capture_output=True,
                            text=True,
                            cwd=ROOT)
    assert result.returncode == 0, result.stderr
    saved = load_checkpoint_file(dst)
    assert saved['meta']['num_classes'] == 400
    assert saved['meta']['class_order'].startswith('remapped')
    for k, v in reference.state_dict().items():
        assert torch.equal(saved['state_dict'][k], v), k


def test_converter_tool_refuses_a_class_count_mismatch(tmp_path):
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'ours.pth')
    torch.save(_official_file(_recognizer(num_classes=174)), src)
    result = subprocess.run(
        [sys.executable, CONVERTER, src, dst, '--config', K400_S16X4],
        capture_output=True,
        text=True,
        cwd=ROOT)
    assert result.returncode == 1
    assert 'has 174 classes' in result.stderr and 'expects 400' in (
        result.stderr)
    assert 'Traceback' not in result.stderr and not osp.exists(dst)


def test_converter_tool_refuses_bad_label_maps_and_overwriting(tmp_path):
    """Checks that fail before any model is built: OUT == IN, label lists
    whose names match only after normalisation under --exact-names, and
    --label-map on a file that is not a video checkpoint."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('convert_official',
                                                  CONVERTER)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    model = _recognizer(num_classes=3, arch='test')
    src = str(tmp_path / 'official.pth')
    torch.save(_official_file(model), src)
    before = open(src, 'rb').read()
    assert tool.main([src, src]) == 1
    assert open(src, 'rb').read() == before
    (tmp_path / 'official.txt').write_text('a_b 0\nc 1\nd 2\n')
    (tmp_path / 'dataset.txt').write_text('a b\nc\nd\n')
    labels = [str(tmp_path / 'official.txt'), str(tmp_path / 'dataset.txt')]
    dst = str(tmp_path / 'ours.pth')
    with pytest.raises(ValueError, match=r"not in the checkpoint.*'a b'"):
        tool.convert(
            tool.parse_args(
                [src, dst, '--label-map', *labels, '--exact-names']))
    with pytest.raises(ValueError, match='goes with --label-map'):
        tool.convert(tool.parse_args([src, dst, '--exact-names']))
    imagenet = str(tmp_path / 'imagenet.pth')
    torch.save({'model': _official_file(model)['model_state']}, imagenet)
    with pytest.raises(ValueError, match='not a SlowFast video'):
        tool.convert(tool.parse_args([imagenet, dst, '--label-map', *labels]))
    assert not osp.exists(dst)
