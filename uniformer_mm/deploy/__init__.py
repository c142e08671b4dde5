"""Deployment: ONNX export of the backbones and each task's model, and the
exportable configuration of the backbones' speed switches."""
from .detector import (DetectorOutputs, compare_detections, format_figures,
                       verify_detector)
from .exportable import (EXPORT_SETTINGS, NotExportableError, check_exportable,
                         exportable)
from .onnx_export import (BackboneOutputs, ClassScores, TensorOutputs,
                          export_module, export_onnx, fix_graph, onnx_session,
                          relative_error, verify_onnx)

__all__ = [
    'EXPORT_SETTINGS', 'NotExportableError', 'check_exportable', 'exportable',
    'BackboneOutputs', 'ClassScores', 'TensorOutputs', 'export_module',
    'export_onnx', 'fix_graph', 'onnx_session', 'relative_error',
    'verify_onnx', 'DetectorOutputs', 'compare_detections', 'format_figures',
    'verify_detector'
]
