"""tools/convert_official.py: every official layout, from synthetic files
written in the old key layouts (official backbone keys from the recorded
reference, heads from our built models renamed to the old names)."""
import argparse
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from uniformer_mm.analysis.build import build_model_from_config
from uniformer_mm.checkpoints.convert import ConversionError, detect_layout
from uniformer_mm.checkpoints.io import load_checkpoint_file
from uniformer_mm.models.arch import ARCH_ZOO_2D

ROOT = Path(__file__).resolve().parents[2]
DET_DEMO = ROOT / 'configs/detection/demo/' \
    'mask-rcnn_uniformer-tiny_fpn_synthetic.py'
SEG_DEMO = ROOT / 'configs/segmentation/demo/fpn_uniformer-tiny_synthetic.py'
MASK_RCNN_S = 'configs/detection/mask-rcnn_uniformer-s-h14_fpn_1x_coco.py'


@pytest.fixture(scope='module')
def reference():
    from uniformer_mm.checkpoints import official_state_dict_shapes
    return official_state_dict_shapes()


def _tool():
    spec = importlib.util.spec_from_file_location(
        'convert_official', ROOT / 'tools/convert_official.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _convert(*argv):
    """Run the CLI in-process; (exit code, stdout)."""
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = _tool().main([str(a) for a in argv])
    return code, out.getvalue()


def _model(config, **options):
    cfg = Config.fromfile(str(config))
    cfg.merge_from_dict(options)
    torch.manual_seed(0)
    return build_model_from_config(cfg)[0]


def _from_reference(shapes, generator_seed=0):
    gen = torch.Generator().manual_seed(generator_seed)
    return {
        k: torch.randn(*shape, generator=gen) if shape else torch.tensor(0)
        for k, shape in shapes.items()
    }


def _assert_same(converted_file, expected):
    loaded = load_checkpoint_file(str(converted_file))
    state = loaded['state_dict']
    assert set(state) == set(expected)
    for key, value in expected.items():
        assert torch.equal(state[key], value), key
    return loaded


# --------------------------------------------------------------- ImageNet
@pytest.mark.parametrize(
    'name, preset',
    [
        ('tl_small', 'small-hd32'),  # token labeling, head_dim 32
        ('cls_small_plus_dim64', 'small-plus'),  # S-dagger: conv stem
    ])
def test_imagenet_layouts(tmp_path, reference, name, preset):
    shapes = reference[name]
    state = _from_reference(shapes)
    model_name = {
        'tl_small': 'uniformer_small',
        'cls_small_plus_dim64': 'uniformer_small_plus_dim64'
    }[name]
    src = tmp_path / f'{name}.pth'
    torch.save({
        'model': state,
        'args': argparse.Namespace(model=model_name)
    }, src)
    code, out = _convert(src, tmp_path / 'out.pth')
    assert code == 0, out
    assert f"UniFormer(arch='{preset}')" in out
    assert 'missing 0, unexpected 0' in out
    classifier = ('head.', 'aux_head.', 'norm.')
    expected = {k: v for k, v in state.items() if not k.startswith(classifier)}
    _assert_same(tmp_path / 'out.pth', expected)
    assert 'dropped:' in out and 'head.weight' in out
    # the output initialises a backbone of that preset through init_cfg
    from uniformer_mm import UniFormer
    backbone = UniFormer(
        arch=preset,
        init_cfg=dict(type='Pretrained', checkpoint=str(tmp_path / 'out.pth')))
    backbone.init_weights()
    assert torch.equal(backbone.state_dict()['blocks3.0.attn.qkv.weight'],
                       state['blocks3.0.attn.qkv.weight'])


def test_imagenet_layer_scale_against_config(tmp_path):
    """A layer-scale ImageNet file (gamma_1/gamma_2 in every block, as
    L+LS) for the backbone of a given config."""
    from uniformer_mm import UniFormer
    arch = dict(
        depths=[1, 1, 2, 1],
        embed_dims=[32, 64, 128, 256],
        head_dim=32,
        layer_scale=True)
    backbone = UniFormer(arch=arch)
    state = {
        k: v
        for k, v in backbone.state_dict().items()
        if not k.startswith(('norm1.', 'norm2.', 'norm3.', 'norm4.'))
    }
    assert any('gamma_1' in k for k in state)
    state.update({
        'norm.weight': torch.ones(256),
        'norm.bias': torch.zeros(256),
        'head.weight': torch.zeros(1000, 256),
        'head.bias': torch.zeros(1000)
    })
    torch.save({'model': state}, tmp_path / 'ls.pth')
    options = ['--cfg-options', 'model.backbone.arch.layer_scale=True']
    code, out = _convert(tmp_path / 'ls.pth', tmp_path / 'out.pth', '--config',
                         DET_DEMO, *options)
    assert code == 0, out
    assert 'norm1.weight' in out  # initialised, not in ImageNet files
    # without layer scale in the target the file does not fit
    code, _ = _convert(tmp_path / 'ls.pth', tmp_path / 'bad.pth', '--config',
                       DET_DEMO)
    assert code == 1 and not (tmp_path / 'bad.pth').exists()


def test_imagenet_hourglass(tmp_path, reference):
    state = _from_reference(reference['cls_light_xxs'])
    torch.save({'model': state}, tmp_path / 'xxs.pth')
    code, out = _convert(tmp_path / 'xxs.pth', tmp_path / 'out.pth')
    assert code == 0, out
    assert "UniFormerLight(arch='xxs')" in out


# -------------------------------------------------- MMDetection 2.x (2.11)
def test_mmdet2_mask_rcnn_official_backbone_keys(tmp_path, reference):
    """The official dense backbone keys (norm1-4 per stage) plus our heads,
    which MMDetection 2.11 names as 3.x does; the config is found from the
    file (S: depths 3-4-8-3; Mask R-CNN: roi_head without stages)."""
    model = _model(ROOT / MASK_RCNN_S)
    ours = model.state_dict()
    official_backbone = _from_reference(reference['dense_small'])
    assert {f'backbone.{k}'
            for k in official_backbone
            } == {k
                  for k in ours if k.startswith('backbone.')}
    state = {k: v for k, v in ours.items() if not k.startswith('backbone.')}
    state.update({f'backbone.{k}': v for k, v in official_backbone.items()})
    classes = [f'class{i}' for i in range(80)]
    torch.save(
        {
            'state_dict': state,
            'meta': {
                'CLASSES':
                classes,
                'mmdet_version':
                '2.11.0',
                'config':
                "model = dict(backbone=dict(type='UniFormer', "
                "hybrid=True, window_size=14))"
            }
        }, tmp_path / 'det.pth')
    code, out = _convert(tmp_path / 'det.pth', tmp_path / 'out.pth')
    assert code == 0, out
    assert 'MMDetection 2.x' in out and MASK_RCNN_S in out
    assert 'missing 0, unexpected 0' in out
    loaded = _assert_same(tmp_path / 'out.pth', state)
    assert loaded['meta']['dataset_meta']['classes'] == classes
    assert loaded['meta']['config'] == MASK_RCNN_S


CASCADE_TINY = {
    'model.neck.in_channels': ARCH_ZOO_2D['test']['embed_dims'],
    'model.neck.out_channels': 32,
    'model.rpn_head.in_channels': 32,
    'model.rpn_head.feat_channels': 32,
    'model.roi_head.bbox_roi_extractor.out_channels': 32,
    'model.roi_head.mask_roi_extractor.out_channels': 32,
    'model.roi_head.mask_head.in_channels': 32,
    'model.roi_head.mask_head.conv_out_channels': 16,
}
for _stage in range(3):  # list items: only --cfg-options can reach them
    CASCADE_TINY.update({
        f'model.roi_head.bbox_head.{_stage}.in_channels':
        32,
        f'model.roi_head.bbox_head.{_stage}.conv_out_channels':
        16,
        f'model.roi_head.bbox_head.{_stage}.fc_out_channels':
        32,
    })
CASCADE = ('configs/detection/'
           'cascade-mask-rcnn_uniformer-s-h14_fpn_ms-3x_coco.py')


def _tiny_config(tmp_path, zoo_config):
    """A zoo config with the test-size backbone, as a config file (the
    converter reads the file it is given)."""
    path = tmp_path / ('tiny_' + Path(zoo_config).name)
    path.write_text(f"_base_ = '{ROOT / zoo_config}'\n"
                    "model = dict(backbone=dict(arch='test'))\n")
    return path


def _options(options):
    return ['--cfg-options'
            ] + [f'{k}={v}'.replace(' ', '') for k, v in options.items()]


def test_mmdet2_cascade(tmp_path):
    config = _tiny_config(tmp_path, CASCADE)
    model = _model(config, **CASCADE_TINY)
    state = model.state_dict()
    assert any(k.startswith('roi_head.bbox_head.2.') for k in state)
    torch.save({'state_dict': state, 'meta': {}}, tmp_path / 'cascade.pth')
    code, out = _convert(tmp_path / 'cascade.pth', tmp_path / 'out.pth',
                         '--config', config, *_options(CASCADE_TINY))
    assert code == 0, out
    _assert_same(tmp_path / 'out.pth', state)


def test_class_count_mismatch(tmp_path):
    state = _model(DET_DEMO).state_dict()  # 3 classes
    torch.save({'state_dict': state}, tmp_path / 'det.pth')
    code = subprocess.run([
        sys.executable,
        str(ROOT / 'tools/convert_official.py'),
        str(tmp_path / 'det.pth'),
        str(tmp_path / 'out.pth'), '--config',
        str(DET_DEMO), '--cfg-options',
        'model.roi_head.bbox_head.num_classes=5',
        'model.roi_head.mask_head.num_classes=5'
    ],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert code.returncode == 1
    assert 'class-count mismatch' in code.stderr
    assert 'fc_cls.weight' in code.stderr and '4 outputs' in code.stderr
    assert not (tmp_path / 'out.pth').exists()


# ------------------------------------------------------ MMSegmentation 0.x
def test_mmseg0_fpn(tmp_path):
    state = _model(SEG_DEMO).state_dict()
    torch.save(
        {
            'state_dict': state,
            'meta': {
                'CLASSES': ['a', 'b', 'c', 'd'],
                'PALETTE': [[0, 0, 0], [1, 1, 1], [2, 2, 2], [3, 3, 3]]
            }
        }, tmp_path / 'seg.pth')
    code, out = _convert(tmp_path / 'seg.pth', tmp_path / 'out.pth',
                         '--config', SEG_DEMO)
    assert code == 0, out
    assert 'MMSegmentation 0.x' in out
    loaded = _assert_same(tmp_path / 'out.pth', state)
    assert loaded['meta']['dataset_meta']['palette'][3] == [3, 3, 3]


FPN_XXS = 'configs/segmentation/fpn_uniformer-xxs_8xb4-80k_ade20k-512x512.py'


def test_mmseg0_hourglass_official_backbone_keys(tmp_path, reference):
    """Hourglass XXS (class token, cls_upsample, conv stem) with the
    official dense backbone keys; the config is found from the file."""
    assert (ROOT / FPN_XXS).is_file(), FPN_XXS
    ours = _model(ROOT / FPN_XXS).state_dict()
    official = _from_reference(reference['light_dense_xxs'])
    assert {f'backbone.{k}'
            for k in official
            } == {k
                  for k in ours if k.startswith('backbone.')}
    state = {k: v for k, v in ours.items() if not k.startswith('backbone.')}
    state.update({f'backbone.{k}': v for k, v in official.items()})
    torch.save({'state_dict': state, 'meta': {}}, tmp_path / 'xxs.pth')
    code, out = _convert(tmp_path / 'xxs.pth', tmp_path / 'out.pth')
    assert code == 0, out
    assert FPN_XXS in out and 'missing 0, unexpected 0' in out
    _assert_same(tmp_path / 'out.pth', state)


UPERNET = ('configs/segmentation/'
           'upernet_uniformer-s_8xb2-160k_ade20k-512x512.py')
UPERNET_TINY = {
    'model.decode_head.in_channels': ARCH_ZOO_2D['test']['embed_dims'],
    'model.decode_head.channels': 32,
    'model.auxiliary_head.in_channels': ARCH_ZOO_2D['test']['embed_dims'][2],
    'model.auxiliary_head.channels': 32,
}


def test_mmseg0_upernet_with_auxiliary_head(tmp_path):
    config = _tiny_config(tmp_path, UPERNET)
    state = _model(config, **UPERNET_TINY).state_dict()
    assert any(k.startswith('auxiliary_head.') for k in state)
    torch.save({'state_dict': state}, tmp_path / 'upernet.pth')
    code, out = _convert(tmp_path / 'upernet.pth', tmp_path / 'out.pth',
                         '--config', config, *_options(UPERNET_TINY))
    assert code == 0, out
    _assert_same(tmp_path / 'out.pth', state)


@pytest.mark.parametrize('config_text, expected', [
    ("backbone=dict(windows=False, hybrid=True, window_size=32)",
     'fpn_uniformer-s-h32_8xb4-80k'),
    ("backbone=dict(windows=True, hybrid=False, window_size=32)",
     'fpn_uniformer-s-w32_8xb4-80k'),
    ("backbone=dict(windows=False, hybrid=False, window_size=32)",
     'fpn_uniformer-s_8xb4-80k'),
    ('', 'fpn_uniformer-s_8xb4-80k'),
])
def test_mmseg0_variant_from_training_config(reference, config_text, expected):
    state = {
        f'backbone.{k}': torch.zeros(shape)
        for k, shape in reference['dense_small'].items()
    }
    state['neck.lateral_convs.0.conv.weight'] = torch.zeros(1)
    state['decode_head.conv_seg.weight'] = torch.zeros(1)
    checkpoint = {'state_dict': state, 'meta': {'config': config_text}}
    layout, state = detect_layout(checkpoint)
    assert layout == 'mmseg0'
    path, _ = _tool().suggest_config(layout, state, checkpoint, str(ROOT))
    assert path is not None and expected in path


# ----------------------------------------------------------- MMPose 0.x
POSE_CONFIG = """
default_scope = 'mmpose'
custom_imports = dict(imports=['uniformer_mm'], allow_failed_imports=False)
codec = dict(type='MSRAHeatmap', input_size=(192, 256),
             heatmap_size=(48, 64), sigma=2)
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor'),
    backbone=dict(type='UniFormer', arch='test', out_indices=(3, )),
    head=dict(type='HeatmapHead', in_channels=256, out_channels=17,
              deconv_out_channels=(32, 32), deconv_kernel_sizes=(4, 4),
              loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder=codec))
"""


def test_mmpose0_keypoint_head_renamed(tmp_path):
    config = tmp_path / 'pose_tiny.py'
    config.write_text(POSE_CONFIG)
    ours = _model(config).state_dict()
    assert any(k.startswith('head.deconv_layers.') for k in ours)
    assert any(k.startswith('head.final_layer.') for k in ours)
    # MMPose 0.x names the head keypoint_head; the official pose backbone
    # has the output norms of all four stages
    old = {
        ('keypoint_head.' + k[len('head.'):] if k.startswith('head.') else k):
        v
        for k, v in ours.items()
    }
    for i, dim in zip((1, 2, 3), (32, 64, 128)):
        old[f'backbone.norm{i}.weight'] = torch.ones(dim)
        old[f'backbone.norm{i}.bias'] = torch.zeros(dim)
    torch.save({
        'state_dict': old,
        'meta': {
            'config': 'image_size=[192, 256]'
        }
    }, tmp_path / 'pose.pth')
    code, out = _convert(tmp_path / 'pose.pth', tmp_path / 'out.pth',
                         '--config', config)
    assert code == 0, out
    assert 'MMPose 0.x' in out
    assert 'dropped:    6 tensors' in out and 'backbone.norm1.weight' in out
    _assert_same(tmp_path / 'out.pth', ours)


# ------------------------------------------------------------- video
VIDEO_CONFIG = """
default_scope = 'mmaction'
custom_imports = dict(imports=['uniformer_mm'], allow_failed_imports=False)
model = dict(
    type='Recognizer3D',
    backbone=dict(type='UniFormer3D', arch='test'),
    cls_head=dict(type='I3DHead', in_channels=256, num_classes=4),
    data_preprocessor=dict(
        type='ActionDataPreprocessor', format_shape='NCTHW'))
"""


def test_slowfast_video_with_label_remap(tmp_path):
    config = tmp_path / 'video_tiny.py'
    config.write_text(VIDEO_CONFIG)
    ours = _model(config).state_dict()
    old = {
        k[len('backbone.'):]: v
        for k, v in ours.items() if k.startswith('backbone.')
    }
    old['head.weight'] = ours['cls_head.fc_cls.weight']
    old['head.bias'] = ours['cls_head.fc_cls.bias']
    torch.save({
        'model_state': old,
        'epoch': 10,
        'cfg': 'NUM_CLASSES: 4'
    }, tmp_path / 'video.pth')
    code, out = _convert(tmp_path / 'video.pth', tmp_path / 'out.pth',
                         '--config', config)
    assert code == 0, out
    assert 'SlowFast video' in out
    _assert_same(tmp_path / 'out.pth', ours)
    # the official order: class i of the checkpoint is dataset class 3 - i
    (tmp_path / 'official.txt').write_text('d 0\nc 1\nb 2\na 3\n')
    (tmp_path / 'dataset.txt').write_text('a\nb\nc\nd\n')
    code, out = _convert(tmp_path / 'video.pth', tmp_path / 'remap.pth',
                         '--config', config, '--kinetics-label-map',
                         tmp_path / 'official.txt', tmp_path / 'dataset.txt')
    assert code == 0, out
    remapped = load_checkpoint_file(str(tmp_path / 'remap.pth'))['state_dict']
    assert torch.equal(remapped['cls_head.fc_cls.weight'],
                       ours['cls_head.fc_cls.weight'].flip(0))


def test_slowfast_and_pose_config_found_from_the_file(reference):
    """The zoo config for an official video / pose file: arch from the
    backbone shapes, classes from the head, frames / dataset / input size
    from the training config the file carries."""
    video = {
        k: torch.zeros(shape)
        for k, shape in reference['video_small'].items()
    }
    video['head.weight'] = torch.zeros(174, 512)
    video['head.bias'] = torch.zeros(174)
    checkpoint = {
        'model_state': video,
        'cfg': 'TRAIN:\n  DATASET: sthv2\nDATA:\n  NUM_FRAMES: 32\n'
    }
    layout, state = detect_layout(checkpoint)
    assert layout == 'slowfast'
    path, why = _tool().suggest_config(layout, state, checkpoint, str(ROOT))
    assert path is not None, why  # the sthv2 configs are in the zoo
    assert 'uniformer-s_' in path and 'u32' in path and 'sthv2' in path, why

    pose = {
        f'backbone.{k}': torch.zeros(shape)
        for k, shape in reference['dense_base'].items()
    }
    pose['keypoint_head.final_layer.weight'] = torch.zeros(17, 256, 1, 1)
    checkpoint = {
        'state_dict': pose,
        'meta': {
            'config': 'data_cfg = dict(image_size=[288, 384])'
        }
    }
    layout, state = detect_layout(checkpoint)
    assert layout == 'mmpose0'
    path, why = _tool().suggest_config(layout, state, checkpoint, str(ROOT))
    assert path is not None, why  # the pose configs are in the zoo
    assert 'uniformer-b_' in path and '384x288' in path, why


# ------------------------------------------------------------- errors
def test_unknown_layout(tmp_path):
    torch.save({'state_dict': {
        'encoder.layer.0.weight': torch.zeros(2)
    }}, tmp_path / 'other.pth')
    code, _ = _convert(tmp_path / 'other.pth', tmp_path / 'out.pth')
    assert code == 1
    with pytest.raises(ConversionError, match='unknown checkpoint layout'):
        detect_layout({'state_dict': {'encoder.weight': torch.zeros(2)}})


@pytest.mark.parametrize('content', ['text', 'list'])
def test_not_a_checkpoint(tmp_path, capsys, content):
    path = tmp_path / 'file.pth'
    if content == 'text':
        path.write_text('this is not a checkpoint\n')
    else:
        torch.save([torch.zeros(1)], path)
    code = _tool().main([str(path), str(tmp_path / 'out.pth')])
    assert code == 1
    err = capsys.readouterr().err
    assert 'not a' in err and 'checkpoint' in err
    assert not (tmp_path / 'out.pth').exists()
