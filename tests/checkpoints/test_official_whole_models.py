"""The whole-model converter fed MMSegmentation 0.x and MMPose 0.x files
built as those codebases write them -- not from our own models.

What an official whole-model file holds, read from the code that wrote them
(github Sense-X/UniFormer at 52a0415, which vendors mmseg 0.13 and mmpose
0.16; mmcv 1.x ``save_checkpoint``):

* ``{'meta', 'state_dict'[, 'optimizer']}``; ``meta`` has ``mmcv_version``
  and ``time`` (mmcv), the runner's ``env_info`` / ``seed`` / ``exp_name``
  / ``epoch`` / ``iter`` / ``hook_msgs``, the checkpoint hook's
  ``mmseg_version`` (or ``mmpose_version``) and ``config`` (the training
  config's ``pretty_text``), and for segmentation ``CLASSES`` and
  ``PALETTE``; fp16 runs add ``meta['fp16']['loss_scaler']``;
* the backbone: the official backbone's keys under ``backbone.`` (here the
  recorded weights of ``tests/fixtures/official``, with their recorded
  outputs);
* the heads with the key names and shapes of the 0.x modules, written out
  below from the 0.x source (``UPerHead`` + ``PPM``, ``FCNHead``, ``FPN`` +
  ``FPNHead``, ``TopDownSimpleHead``; mmcv 1.x ``ConvModule``: ``conv`` with
  no bias when followed by ``bn``).

The converted file must load into our 1.x model built from our zoo configs
(backbone made tiny like the recording), every tensor of the file must land
at its 1.x name unchanged or be named as dropped, the backbone must give the
official outputs, and each head -- run by 1.x code -- must compute what the
0.x head computes with the 0.x tensors (a reference written here from the
0.x forward code).
"""
import contextlib
import importlib.util
import io
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from official_fixtures import assert_matches, load_fixture

from uniformer_mm.checkpoints.io import load_checkpoint_file

ROOT = Path(__file__).resolve().parents[2]
UPERNET = ('configs/segmentation/'
           'upernet_uniformer-s_8xb2-160k_ade20k-512x512.py')
UPERNET_H14 = ('configs/segmentation/'
               'upernet_uniformer-s-h14_8xb2-160k_ade20k-512x512.py')
FPN = 'configs/segmentation/fpn_uniformer-s_8xb4-80k_ade20k-512x512.py'
FPN_XXS = 'configs/segmentation/fpn_uniformer-xxs_8xb4-80k_ade20k-512x512.py'
POSE = 'configs/pose/td-hm_uniformer-s_8xb128-210e_coco-256x192.py'
ADE_CLASSES = tuple(f'class{i}' for i in range(150))
ADE_PALETTE = [[i, 255 - i, (7 * i) % 256] for i in range(150)]
DIMS = [8, 16, 24, 32]  # the recording's embed dims


# ------------------------------------------------ 0.x head layouts (source)
def _conv_module(prefix, cin, cout, k, norm=True):
    """mmcv 1.x ConvModule: conv (bias only without a norm) + bn."""
    shapes = {f'{prefix}.conv.weight': (cout, cin, k, k)}
    if norm:
        shapes.update({
            f'{prefix}.bn.weight': (cout, ),
            f'{prefix}.bn.bias': (cout, ),
            f'{prefix}.bn.running_mean': (cout, ),
            f'{prefix}.bn.running_var': (cout, ),
            f'{prefix}.bn.num_batches_tracked': (),
        })
    else:
        shapes[f'{prefix}.conv.bias'] = (cout, )
    return shapes


def _conv_seg(prefix, channels, classes):
    return {
        f'{prefix}.conv_seg.weight': (classes, channels, 1, 1),
        f'{prefix}.conv_seg.bias': (classes, )
    }


def uper_head_0x(in_channels, channels, classes, pool_scales=(1, 2, 3, 6)):
    """mmseg 0.13 UPerHead (decode_heads/uper_head.py, PPM of psp_head.py:
    Sequential(AdaptiveAvgPool2d, ConvModule))."""
    p = 'decode_head'
    shapes = {}
    for i, _ in enumerate(pool_scales):
        shapes.update(
            _conv_module(f'{p}.psp_modules.{i}.1', in_channels[-1], channels,
                         1))
    shapes.update(
        _conv_module(f'{p}.bottleneck',
                     in_channels[-1] + len(pool_scales) * channels, channels,
                     3))
    for i, cin in enumerate(in_channels[:-1]):
        shapes.update(_conv_module(f'{p}.lateral_convs.{i}', cin, channels, 1))
        shapes.update(
            _conv_module(f'{p}.fpn_convs.{i}', channels, channels, 3))
    shapes.update(
        _conv_module(f'{p}.fpn_bottleneck',
                     len(in_channels) * channels, channels, 3))
    shapes.update(_conv_seg(p, channels, classes))
    return shapes


def fcn_head_0x(in_channels, channels, classes):
    """mmseg 0.13 FCNHead(num_convs=1, concat_input=False), the UniFormer
    auxiliary head."""
    shapes = _conv_module('auxiliary_head.convs.0', in_channels, channels, 3)
    shapes.update(_conv_seg('auxiliary_head', channels, classes))
    return shapes


def semantic_fpn_0x(in_channels, out_channels, channels, classes):
    """mmseg 0.13 FPN neck (no norm, no activation, num_outs 4) and FPNHead
    (feature strides 4-32: scale head i has max(1, i) ConvModules, each but
    in the first followed by an Upsample, so convs at 0, 2, 4)."""
    shapes = {}
    for i, cin in enumerate(in_channels):
        shapes.update(
            _conv_module(
                f'neck.lateral_convs.{i}', cin, out_channels, 1, norm=False))
        shapes.update(
            _conv_module(
                f'neck.fpn_convs.{i}',
                out_channels,
                out_channels,
                3,
                norm=False))
    for i in range(4):
        for k in range(max(1, i)):
            shapes.update(
                _conv_module(f'decode_head.scale_heads.{i}.{2 * k}',
                             out_channels if k == 0 else channels, channels,
                             3))
    shapes.update(_conv_seg('decode_head', channels, classes))
    return shapes


def topdown_simple_head_0x(in_channels, filters, keypoints):
    """mmpose 0.16 TopDownSimpleHead (keypoint_heads/top_down_simple_head.py):
    deconv_layers = Sequential(ConvTranspose2d(bias=False), BN, ReLU) x n,
    final_layer = Conv2d 1x1 (extra=dict(final_conv_kernel=1))."""
    shapes = {}
    cin = in_channels
    for i, planes in enumerate(filters):
        shapes[f'keypoint_head.deconv_layers.{3 * i}.weight'] = (cin, planes,
                                                                 4, 4)
        for name in ('weight', 'bias', 'running_mean', 'running_var'):
            shapes[f'keypoint_head.deconv_layers.{3 * i + 1}.{name}'] = (
                planes, )
        shapes[f'keypoint_head.deconv_layers.{3 * i + 1}.'
               'num_batches_tracked'] = ()
        cin = planes
    shapes['keypoint_head.final_layer.weight'] = (keypoints, cin, 1, 1)
    shapes['keypoint_head.final_layer.bias'] = (keypoints, )
    return shapes


def head_tensors(shapes, seed=0):
    """Trained-looking values: running variances positive, counters
    integers, everything else random (so a misplaced tensor shows)."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            out[key] = torch.tensor(160000)
        elif key.endswith('running_var'):
            out[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            out[key] = torch.randn(shape, generator=gen) * 0.3
    return out


def official_file(path,
                  fixture,
                  heads,
                  codebase,
                  config_text,
                  optimizer=False,
                  fp16_scaler=False,
                  half=False):
    """Write ``path`` as mmcv 1.x ``save_checkpoint`` does for an mmseg 0.x
    / mmpose 0.x run: the recorded official backbone + ``heads``."""
    recorded = fixture['checkpoint']['state_dict']
    state = OrderedDict((k, v.clone()) for k, v in recorded.items()
                        if k.startswith('backbone.'))
    state.update(heads)
    if half:  # torch < 1.6 fp16 training: model.half(), then mmcv's
        # patch_norm_fp32 puts BatchNorm (not LayerNorm) back in float
        batch_norms = {
            k[:-len('.running_mean')]
            for k in state if k.endswith('.running_mean')
        }
        for key, value in state.items():
            if value.is_floating_point() and key.rsplit(
                    '.', 1)[0] not in batch_norms:
                state[key] = value.half()
    # get_state_dict's per-module versions
    state._metadata = OrderedDict((prefix, {
        'version': 1
    }) for prefix in sorted({k.rsplit('.', 1)[0]
                             for k in state}))
    meta = {
        'env_info': 'sys.platform: linux\nPython: 3.7.10\nCUDA available: '
        'True\nPyTorch: 1.8.1\nMMCV: 1.3.9',
        'seed': None,
        'config': config_text,
        'epoch': 210,
        'iter': 160000,
        'hook_msgs': {
            'last_ckpt': '/work_dirs/exp/latest.pth'
        },
        'mmcv_version': '1.3.9',
        'time': 'Sat Jul 10 12:00:00 2021',
    }
    if codebase == 'mmseg':
        meta.update(
            exp_name='config.py',
            mmseg_version='0.13.0+a1b2c3d',
            CLASSES=ADE_CLASSES,
            PALETTE=ADE_PALETTE)
    else:
        meta['mmpose_version'] = '0.16.0+a1b2c3d'
    if fp16_scaler:  # mmcv Fp16OptimizerHook (GradScaler state)
        meta['fp16'] = {
            'loss_scaler': {
                'scale': 65536.0,
                'growth_factor': 2.0,
                'backoff_factor': 0.5,
                'growth_interval': 2000,
                '_growth_tracker': 17
            }
        }
    checkpoint = {'meta': meta, 'state_dict': state}
    if optimizer:  # AdamW's state_dict, one param group per custom key
        params = [k for k, v in state.items() if v.is_floating_point()]
        checkpoint['optimizer'] = {
            'state': {
                i: {
                    'step': 160000,
                    'exp_avg': torch.zeros_like(state[k]),
                    'exp_avg_sq': torch.zeros_like(state[k])
                }
                for i, k in enumerate(params)
            },
            'param_groups': [{
                'lr': 6e-5,
                'betas': (0.9, 0.999),
                'eps': 1e-08,
                'weight_decay': 0.01,
                'amsgrad': False,
                'initial_lr': 6e-5,
                'params': list(range(len(params)))
            }]
        }
    torch.save(checkpoint, path)
    return checkpoint


def _backbone_config_text(fixture):
    """The official backbone arguments as the training config's
    pretty_text shows them (the official hybrid configs give no
    window_size: the backbone's default 14 applies)."""
    arch, kwargs = fixture['arch'], fixture['kwargs']
    mode = kwargs.get('attn_mode', 'global')
    text = (f"backbone=dict(type='UniFormer', embed_dim={DIMS}, "
            f"layers={arch['depths']}, head_dim=8, drop_path_rate=0.25, "
            f"windows={mode == 'window'}, hybrid={mode == 'hybrid'}")
    if 'window_size' in kwargs:
        text += f", window_size={kwargs['window_size']}"
    return 'model = dict(type=\'EncoderDecoder\', ' + text + '))'


# ----------------------------------------------------------- the target
def _tiny_config(tmp_path, zoo_config, fixture, head):
    """Our zoo config with the recording's backbone and small heads."""
    arch = dict(fixture['arch'])
    lines = [
        f"_base_ = '{ROOT / zoo_config}'",
        f'model = dict(backbone=dict(arch=dict(_delete_=True, **{arch!r}), '
        f'init_cfg=None, **{dict(fixture["kwargs"])!r}), {head})'
    ]
    path = tmp_path / ('tiny_' + Path(zoo_config).name)
    path.write_text('\n'.join(lines) + '\n')
    return path


def _convert(*argv):
    spec = importlib.util.spec_from_file_location(
        'convert_official', ROOT / 'tools/convert_official.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = module.main([str(a) for a in argv])
    return code, out.getvalue()


def _build(config):
    from mmengine.config import Config

    from uniformer_mm.analysis.build import build_model_from_config
    torch.manual_seed(1)  # initial values differ from every file value
    model = build_model_from_config(Config.fromfile(str(config)))[0]
    return model.eval()


def _convert_and_load(tmp_path, src, config):
    """Convert ``src`` for ``config``; the converted file, our model with it
    loaded (strict) and the tool's output."""
    code, out = _convert(src, tmp_path / 'out.pth', '--config', config)
    assert code == 0, out
    converted = load_checkpoint_file(str(tmp_path / 'out.pth'))
    model = _build(config)
    model.load_state_dict(converted['state_dict'], strict=True)
    return converted, model, out


def _assert_landed(official, converted, rename=lambda k: k, dropped=()):
    """Every tensor of the official file is at its 1.x name with its values
    (dtype aside), except exactly ``dropped``; nothing else was added."""
    expected = {rename(k): v for k, v in official.items() if k not in dropped}
    assert set(converted) == set(expected)
    for key, value in expected.items():
        assert torch.equal(converted[key].float(), value.float()), key


# ------------------------------------------- 0.x forward (reference code)
def _cm(sd, prefix, x, padding, norm=True, relu=True):
    """mmcv ConvModule with eval BatchNorm, from the 0.x tensors."""
    x = F.conv2d(
        x,
        sd[f'{prefix}.conv.weight'].float(),
        sd.get(f'{prefix}.conv.bias'),
        padding=padding)
    if norm:
        x = F.batch_norm(x, sd[f'{prefix}.bn.running_mean'],
                         sd[f'{prefix}.bn.running_var'],
                         sd[f'{prefix}.bn.weight'], sd[f'{prefix}.bn.bias'],
                         False, 0., 1e-5)
    return F.relu(x) if relu else x


def _seg(sd, prefix, x):
    return F.conv2d(x, sd[f'{prefix}.conv_seg.weight'],
                    sd[f'{prefix}.conv_seg.bias'])


def _resize(x, size):
    return F.interpolate(x, size=size, mode='bilinear', align_corners=False)


def uper_forward_0x(sd, feats, pool_scales=(1, 2, 3, 6)):
    """mmseg 0.13 UPerHead.forward (+ PPM, psp_forward)."""
    p = 'decode_head'
    x = feats[-1]
    psp = [x] + [
        _resize(
            _cm(sd, f'{p}.psp_modules.{i}.1', F.adaptive_avg_pool2d(x, s), 0),
            x.shape[2:]) for i, s in enumerate(pool_scales)
    ]
    laterals = [
        _cm(sd, f'{p}.lateral_convs.{i}', f, 0)
        for i, f in enumerate(feats[:-1])
    ]
    laterals.append(_cm(sd, f'{p}.bottleneck', torch.cat(psp, 1), 1))
    for i in range(len(laterals) - 1, 0, -1):
        laterals[i - 1] = laterals[i - 1] + _resize(laterals[i],
                                                    laterals[i - 1].shape[2:])
    outs = [
        _cm(sd, f'{p}.fpn_convs.{i}', laterals[i], 1)
        for i in range(len(laterals) - 1)
    ] + [laterals[-1]]
    outs = [outs[0]] + [_resize(o, outs[0].shape[2:]) for o in outs[1:]]
    return _seg(sd, p, _cm(sd, f'{p}.fpn_bottleneck', torch.cat(outs, 1), 1))


def fcn_forward_0x(sd, feats):
    """mmseg 0.13 FCNHead.forward on in_index 2."""
    x = _cm(sd, 'auxiliary_head.convs.0', feats[2], 1)
    return _seg(sd, 'auxiliary_head', x)


def semantic_fpn_forward_0x(sd, feats):
    """mmseg 0.13 FPN (nearest top-down) then FPNHead."""
    laterals = [
        _cm(sd, f'neck.lateral_convs.{i}', f, 0, norm=False, relu=False)
        for i, f in enumerate(feats)
    ]
    for i in range(3, 0, -1):
        laterals[i - 1] = laterals[i - 1] + F.interpolate(
            laterals[i], size=laterals[i - 1].shape[2:], mode='nearest')
    outs = [
        _cm(sd, f'neck.fpn_convs.{i}', lat, 1, norm=False, relu=False)
        for i, lat in enumerate(laterals)
    ]
    output = None
    for i, x in enumerate(outs):
        for k in range(max(1, i)):
            x = _cm(sd, f'decode_head.scale_heads.{i}.{2 * k}', x, 1)
            if i > 0:
                x = F.interpolate(
                    x, scale_factor=2, mode='bilinear', align_corners=False)
        output = x if output is None else output + _resize(x, output.shape[2:])
    return _seg(sd, 'decode_head', output)


def topdown_forward_0x(sd, x, layers=3):
    """mmpose 0.16 TopDownSimpleHead.forward (kernel 4: padding 1, output
    padding 0)."""
    p = 'keypoint_head'
    for i in range(layers):
        x = F.conv_transpose2d(
            x,
            sd[f'{p}.deconv_layers.{3 * i}.weight'].float(),
            stride=2,
            padding=1)
        bn = f'{p}.deconv_layers.{3 * i + 1}'
        x = F.relu(
            F.batch_norm(x, sd[f'{bn}.running_mean'], sd[f'{bn}.running_var'],
                         sd[f'{bn}.weight'], sd[f'{bn}.bias'], False, 0.,
                         1e-5))
    return F.conv2d(x, sd[f'{p}.final_layer.weight'].float(),
                    sd[f'{p}.final_layer.bias'].float())


def _close(ours, reference, what):
    scale = reference.abs().max().item()
    error = (ours - reference).abs().max().item()
    assert error <= 1e-5 * scale + 1e-6, f'{what}: {error:.3g} of {scale:.3g}'


# ------------------------------------------------------------------ tests
@pytest.mark.parametrize('name, optimizer', [('uniformer_global', True),
                                             ('uniformer_hybrid', False)])
def test_mmseg0_upernet_fcn_aux(tmp_path, name, optimizer):
    """The official UperNet: UPerHead + FCNHead auxiliary, SyncBN, 150
    classes; optimizer kept in the file or not."""
    fixture = load_fixture(name)
    channels = 16
    heads = head_tensors({
        **uper_head_0x(DIMS, channels, 150),
        **fcn_head_0x(DIMS[2], channels, 150)
    })
    src = tmp_path / 'upernet.pth'
    official = official_file(src, fixture, heads, 'mmseg',
                             _backbone_config_text(fixture), optimizer)
    config = _tiny_config(
        tmp_path, UPERNET, fixture,
        f'decode_head=dict(in_channels={DIMS}, channels={channels}), '
        f'auxiliary_head=dict(in_channels={DIMS[2]}, channels={channels})')
    converted, model, out = _convert_and_load(tmp_path, src, config)
    assert 'MMSegmentation 0.x' in out and 'dropped' not in out
    _assert_landed(official['state_dict'], converted['state_dict'])
    assert converted['meta']['dataset_meta'] == {
        'classes': list(ADE_CLASSES),
        'palette': ADE_PALETTE
    }
    with torch.no_grad():
        feats = model.backbone(fixture['input'])
        for i, (ours,
                recorded) in enumerate(zip(feats, fixture['eval_outputs'])):
            assert_matches(ours, recorded, f'{name} stage {i + 1}')
        _close(
            model.decode_head(feats), uper_forward_0x(heads, feats),
            'UPerHead')
        _close(
            model.auxiliary_head(feats), fcn_forward_0x(heads, feats),
            'FCNHead')


@pytest.mark.parametrize('name, zoo', [('uniformer_global', FPN),
                                       ('uniformer_light', FPN_XXS)])
def test_mmseg0_semantic_fpn(tmp_path, name, zoo):
    """Semantic FPN (FPN neck + FPNHead), dense and hourglass backbones."""
    fixture = load_fixture(name)
    heads = head_tensors(semantic_fpn_0x(DIMS, 16, 8, 150), seed=1)
    src = tmp_path / 'fpn.pth'
    official = official_file(src, fixture, heads, 'mmseg',
                             _backbone_config_text(fixture))
    config = _tiny_config(
        tmp_path, zoo, fixture, f'neck=dict(in_channels={DIMS}, '
        'out_channels=16), decode_head=dict(in_channels=[16, 16, 16, 16], '
        'channels=8)')
    converted, model, _ = _convert_and_load(tmp_path, src, config)
    _assert_landed(official['state_dict'], converted['state_dict'])
    with torch.no_grad():
        feats = model.backbone(fixture['input'])
        for i, (ours,
                recorded) in enumerate(zip(feats, fixture['eval_outputs'])):
            assert_matches(ours, recorded, f'{name} stage {i + 1}')
        _close(
            model.decode_head(model.neck(feats)),
            semantic_fpn_forward_0x(heads, feats), 'FPN + FPNHead')


@pytest.mark.parametrize('fp16', ['amp', 'half'])
def test_mmpose0_topdown(tmp_path, fp16):
    """The official TopDown model (TopDownSimpleHead, 3 deconvolutions,
    1x1 final conv, SyncBN; fp16 training): ``keypoint_head.`` becomes
    ``head.``, the backbone's stage 1-3 output norms (the official pose
    backbone keeps them, ours outputs stage 4 only) are dropped by name.
    ``half``: torch < 1.6 fp16 training stored the weights in half
    precision (norms in float)."""
    fixture = load_fixture('uniformer_global')
    heads = head_tensors(topdown_simple_head_0x(32, (16, 16, 16), 17), seed=2)
    src = tmp_path / 'pose.pth'
    text = (
        'data_cfg = dict(image_size=[192, 256], heatmap_size=[48, 64])\n' +
        _backbone_config_text(fixture).replace('EncoderDecoder', 'TopDown'))
    official = official_file(
        src,
        fixture,
        heads,
        'mmpose',
        text,
        optimizer=True,
        fp16_scaler=True,
        half=fp16 == 'half')
    config = _tiny_config(
        tmp_path, POSE, fixture,
        'head=dict(in_channels=32, deconv_out_channels=(16, 16, 16))')
    converted, model, out = _convert_and_load(tmp_path, src, config)
    assert 'MMPose 0.x' in out
    norms = {
        f'backbone.norm{i}.{p}'
        for i in (1, 2, 3)
        for p in ('weight', 'bias')
    }
    assert 'dropped:    6 tensors' in out
    assert all(k in out for k in sorted(norms))
    _assert_landed(
        official['state_dict'],
        converted['state_dict'],
        rename=lambda k: 'head.' + k[len('keypoint_head.'):]
        if k.startswith('keypoint_head.') else k,
        dropped=norms)
    with torch.no_grad():
        feats = model.backbone(fixture['input'])
        assert len(feats) == 1
        if fp16 == 'amp':
            assert_matches(feats[0], fixture['eval_outputs'][3], 'stage 4')
        reference = {k: v.float() for k, v in heads.items()}
        if fp16 == 'half':
            reference = {
                k: v.float()
                for k, v in official['state_dict'].items()
                if k.startswith('keypoint_head.')
            }
        _close(
            model.head.forward(feats), topdown_forward_0x(reference, feats[0]),
            'TopDownSimpleHead')


@pytest.mark.parametrize('name, expected', [
    ('uniformer_hybrid', UPERNET_H14),
    ('uniformer_global', UPERNET),
])
def test_mmseg0_attention_from_official_training_config(name, expected):
    """The official hybrid configs say ``hybrid=True`` and no window size
    (the official backbone's default, 14): the file is for the -h14 config,
    not the global one."""
    from uniformer_mm.checkpoints.convert import detect_layout
    from uniformer_mm.checkpoints.official import ROOT as CONFIG_ROOT
    from uniformer_mm.checkpoints.official import suggest_config
    from uniformer_mm.checkpoints.official_keys import \
        official_state_dict_shapes
    fixture = dict(load_fixture(name))
    fixture['kwargs'] = {
        k: v
        for k, v in fixture['kwargs'].items() if k != 'window_size'
    }
    state = {
        f'backbone.{k}': torch.zeros(shape)
        for k, shape in official_state_dict_shapes('dense_small').items()
    }
    state.update(
        head_tensors({
            **uper_head_0x([64, 128, 320, 512], 8, 150),
            **fcn_head_0x(320, 8, 150)
        }))
    checkpoint = {
        'state_dict': state,
        'meta': {
            'config': _backbone_config_text(fixture)
        }
    }
    layout, state = detect_layout(checkpoint)
    path, why = suggest_config(layout, state, checkpoint, CONFIG_ROOT)
    assert path == expected, why
