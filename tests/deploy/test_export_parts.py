"""Parts of the export path checked against independent expectations:
box decoding against MMDetection's coder, the detection comparison's
figures, and exportable() restoring class-level defaults."""
import torch
import torch.nn as nn

from uniformer_mm.deploy.detector import _decode, compare_detections
from uniformer_mm.deploy.exportable import EXPORT_SETTINGS, exportable


def test_decode_matches_mmdet_coder_with_extreme_deltas():
    """Width / height deltas beyond log(1000/16) are clamped as in
    ``delta2bbox``."""
    from mmdet.models.task_modules.coders import DeltaXYWHBBoxCoder
    coder = DeltaXYWHBBoxCoder(
        target_means=[0., 0., 0., 0.], target_stds=[0.1, 0.1, 0.2, 0.2])
    priors = torch.tensor([[10., 10., 30., 50.], [0., 0., 8., 8.]])
    deltas = torch.tensor([[0.5, -0.5, 30., -30.], [1., 1., 25., 2.]])
    size = torch.tensor([1000., 800., 1000., 800.])
    ours = _decode(coder, priors, deltas, size)
    expected = coder.decode(priors, deltas, max_shape=(800, 1000))
    assert torch.allclose(ours, expected, atol=1e-3)


def test_compare_detections_figures():
    ref = [
        torch.tensor([[[0., 0., 100., 50., .9], [10., 10., 20., 20., .5]]]),
        torch.tensor([[1, -1]])
    ]
    out = [
        torch.tensor([[[0., 0., 98., 50., .8], [10., 10., 20., 20., .5]]]),
        torch.tensor([[1, 2]])
    ]
    figures = compare_detections(ref, out)
    assert figures['detections'] == 1 and figures['detections_out'] == 2
    assert figures['labels_equal'] == 0.5
    assert abs(figures['boxes'] - 0.02) < 1e-6  # 2 of the largest 100
    assert abs(figures['scores'] - 0.1) < 1e-6


class _ClassDefaults(nn.Module):
    """A module of this project whose switches are class attributes."""
    debug = True
    fast_paths = 'class default'


_ClassDefaults.__module__ = 'uniformer_mm.models.test_stub'


def test_exportable_restores_class_level_defaults():
    module = _ClassDefaults()
    with exportable(module):
        assert module.debug is EXPORT_SETTINGS['debug']
        assert module.fast_paths is EXPORT_SETTINGS['fast_paths']
    # back to the class's values, no instance copy left behind
    assert 'debug' not in vars(module) and 'fast_paths' not in vars(module)
    _ClassDefaults.debug = False
    assert module.debug is False
