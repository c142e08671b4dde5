"""ONNX export (ONNX Runtime parity at sizes other than the export size) and
``torch.export`` of the backbones and of each task's demo model."""
import os.path as osp

import pytest
import torch
from conftest import randomize_
from mmengine.config import Config

from uniformer_mm.analysis.build import build_model_from_config
from uniformer_mm.deploy import (NotExportableError, export_module,
                                 export_onnx, exportable, onnx_session,
                                 relative_error, verify_onnx)
from uniformer_mm.models import UniFormer, UniFormer3D
from uniformer_mm.models.ops import PRESETS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FAST = PRESETS['fast']
TOL = 1e-4
HYBRID = dict(depths=[1, 1, 4, 1], embed_dims=[16, 32, 64, 128], head_dim=16)


def _parity(module, sample, inputs, tmp_path, name='model.onnx'):
    """Export ``module`` with dynamic shapes at ``sample``'s size and
    return the ONNX Runtime vs PyTorch errors at ``inputs``."""
    path = str(tmp_path / name)
    export_onnx(module, sample, path, dynamic=True)
    return verify_onnx(module, path, inputs)


# window 3 on a stage-3 map of 6x6 (export, no padding), 5x7 and 4x9 (both
# padded): the padding must come from the input size, not the export's
@pytest.mark.parametrize('attn_mode,arch', [('global', 'test'),
                                            ('window', 'test'),
                                            ('hybrid', HYBRID)])
def test_backbone_2d_dynamic_parity(attn_mode, arch, tmp_path):
    model = randomize_(
        UniFormer(arch=arch, attn_mode=attn_mode, window_size=3)).eval()
    sample = torch.randn(2, 3, 96, 96)
    inputs = [torch.randn(1, 3, 80, 112), torch.randn(3, 3, 64, 144)]
    errors = _parity(model, sample, inputs, tmp_path)
    assert max(errors) <= TOL, errors
    # the export left the model's own switches as they were
    assert model.fast_paths == model.blocks3[0].attn.fast_paths == FAST


def test_backbone_3d_dynamic_parity(tmp_path):
    model = randomize_(UniFormer3D(arch='test', out_indices=(0, 1, 2, 3)))
    sample = torch.randn(2, 3, 4, 64, 64)
    inputs = [torch.randn(1, 3, 6, 64, 96), torch.randn(2, 3, 2, 96, 64)]
    errors = _parity(model.eval(), sample, inputs, tmp_path)
    assert max(errors) <= TOL, errors


def _demo_model(config):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    model, scope = build_model_from_config(cfg)
    return randomize_(model).eval(), scope


@pytest.mark.parametrize('config,sample_shape,shapes', [
    ('segmentation/demo/fpn_uniformer-tiny_synthetic.py',
     (2, 3, 128, 96), [(1, 3, 96, 160), (2, 3, 160, 128)]),
    ('pose/demo/td-hm_uniformer-tiny_synthetic.py',
     (2, 3, 128, 96), [(1, 3, 96, 64), (3, 3, 160, 128)]),
    ('video/demo/uniformer3d-tiny_synthetic-video.py',
     (2, 3, 4, 64, 64), [(1, 3, 6, 64, 96), (2, 3, 2, 96, 64)]),
])
def test_demo_model_dynamic_parity(config, sample_shape, shapes, tmp_path):
    model, _ = _demo_model(config)
    module = export_module(model)
    inputs = [torch.randn(*s) for s in shapes]
    errors = _parity(module, torch.randn(*sample_shape), inputs, tmp_path)
    assert max(errors) <= TOL, errors


def test_recognizer_exports_class_scores(tmp_path):
    model, _ = _demo_model('video/demo/uniformer3d-tiny_synthetic-video.py')
    module = export_module(model)
    x = torch.randn(2, 3, 4, 64, 64)
    with torch.no_grad():
        scores = module(x)
        # independent: the backbone and the head called directly
        expected = model.cls_head(model.backbone(x))
    assert scores.shape == (2, model.cls_head.num_classes)
    torch.testing.assert_close(scores, expected)


def test_exportable_switches_and_restores():
    model = UniFormer(arch='test', attn_mode='window', window_size=3)
    model.train()
    attn = model.blocks3[0].attn
    with exportable(model) as m:
        assert m is model and not model.training
        assert not torch.is_grad_enabled()
        for module in (model, attn, model.blocks1[0], model.blocks1[0].mlp):
            assert module.fast_paths == PRESETS['reference']
    assert model.training and torch.is_grad_enabled()
    for module in (model, attn, model.blocks1[0], model.blocks1[0].mlp):
        assert module.fast_paths == FAST


def test_exportable_rejects_bf16():
    model = UniFormer(arch='test').to(torch.bfloat16)
    with pytest.raises(TypeError, match='float32'):
        with exportable(model):
            pass


def test_light_backbone_dynamic_refused_static_exports(tmp_path):
    from uniformer_mm.models import UniFormerLight
    model = randomize_(UniFormerLight(arch='xxs')).eval()
    sample = torch.randn(1, 3, 96, 96)
    with pytest.raises(NotExportableError, match='token selection'):
        export_onnx(model, sample, str(tmp_path / 'a.onnx'), dynamic=True)
    path = str(tmp_path / 'b.onnx')
    export_onnx(model, sample, path, dynamic=False)
    errors = verify_onnx(model, path, [torch.randn(1, 3, 96, 96)])
    assert max(errors) <= TOL, errors


def test_relative_error():
    ref = torch.tensor([1., -4., 2.])
    assert relative_error(ref, torch.tensor([1., -4., 2.])) == 0
    assert relative_error(ref, ref + torch.tensor([0., .4, 0.])) == \
        pytest.approx(0.1)
    with pytest.raises(ValueError, match='shape'):
        relative_error(ref, torch.zeros(2))


def test_export_onnx_cli_verify(tmp_path, capsys):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'export_onnx', osp.join(ROOT, 'tools/deploy/export_onnx.py'))
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    main = cli.main
    out = tmp_path / 'pose.onnx'
    assert main([
        osp.join(ROOT, 'configs/pose/demo/td-hm_uniformer-tiny_synthetic.py'),
        'none', '--out',
        str(out), '--shape', '128', '96', '--dynamic', '--verify'
    ]) == 0
    lines = [
        line for line in capsys.readouterr().out.splitlines()
        if line.startswith('verify:')
    ]
    assert len(lines) == 2 and '(1, 3, 160, 160)' in lines[1]
    errors = [float(line.rsplit(' ', 1)[1]) for line in lines]
    assert max(errors) <= TOL
    # the graph's input is dynamic in batch, height and width
    dims = onnx_session(str(out)).get_inputs()[0].shape
    assert dims[1] == 3 and all(isinstance(d, str) for d in dims[::2][:2])


def _torch_export(model, sample, dims):
    dyn = {i: torch.export.Dim.DYNAMIC for i in dims}
    with exportable(model):
        return torch.export.export(model, (sample, ), dynamic_shapes=(dyn, ))


def test_torch_export_2d_window_dynamic():
    model = randomize_(
        UniFormer(arch='test', attn_mode='window', window_size=3)).eval()
    program = _torch_export(model, torch.randn(2, 3, 96, 96), (0, 2, 3))
    for shape in [(1, 3, 80, 112), (3, 3, 64, 144)]:
        x = torch.randn(*shape)
        with torch.no_grad():
            expected = model(x)
            got = program.module()(x)
        for e, g in zip(expected, got):
            assert e.shape == g.shape
            assert relative_error(e, g) <= TOL


@pytest.mark.slow
def test_torch_export_3d_dynamic():
    model = randomize_(UniFormer3D(arch='test')).eval()
    program = _torch_export(model, torch.randn(2, 3, 4, 64, 64), (0, 2, 3, 4))
    x = torch.randn(1, 3, 6, 64, 96)
    with torch.no_grad():
        expected = model(x)
        got = program.module()(x)
    assert expected.shape == got.shape
    assert relative_error(expected, got) <= TOL


def test_detector_backbone_only(tmp_path):
    # the whole detector: tests/deploy/test_detector_export.py
    model, _ = _demo_model(
        'detection/demo/mask-rcnn_uniformer-tiny_fpn_synthetic.py')
    module = export_module(model, backbone_only=True)
    inputs = [torch.randn(1, 3, 96, 160), torch.randn(2, 3, 160, 96)]
    errors = _parity(module, torch.randn(2, 3, 128, 128), inputs, tmp_path)
    assert max(errors) <= TOL, errors


@pytest.mark.parametrize('size', [(7, 10), (5, 3), (6, 6)])
def test_adaptive_pool_replacement_matches(size):
    pool = torch.nn.Sequential(
        torch.nn.AdaptiveAvgPool2d(6), torch.nn.AdaptiveAvgPool2d((2, 3)))
    x = torch.randn(2, 4, *size)
    expected = pool[0](x), pool[1](x)
    with exportable(pool):
        got = pool[0](x), pool[1](x)
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e)
    assert 'forward' not in vars(pool[0])  # restored


@pytest.mark.slow
def test_upernet_s_h14_dynamic_parity(tmp_path):
    model, _ = _demo_model(
        'segmentation/upernet_uniformer-s-h14_8xb2-160k_ade20k-512x512.py')
    module = export_module(model)
    # stage 4 of 288x320 is 9x10: uneven pyramid-pooling bins
    inputs = [torch.randn(1, 3, 288, 320), torch.randn(1, 3, 224, 192)]
    errors = _parity(module, torch.randn(1, 3, 256, 256), inputs, tmp_path)
    assert max(errors) <= TOL, errors
