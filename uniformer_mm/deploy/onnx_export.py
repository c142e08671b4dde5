"""ONNX export of the backbones and of each task's model, and the check of
an exported file in ONNX Runtime against PyTorch.

The graph is traced by PyTorch's TorchScript-based ONNX exporter
(``torch.onnx.export(..., dynamo=False)``): it exports a tiny UniFormer in
seconds where the ``torch.export``-based exporter takes over a minute on a
2-core machine, and it records the shape arithmetic of the window padding
from the input size, so ``dynamic_axes`` graphs are correct at any size.
"""
import contextlib
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log

from .detector import DetectorOutputs
from .exportable import check_exportable, exportable

OPSET = 17
TensorOrTuple = Union[torch.Tensor, Tuple[torch.Tensor, ...]]


class BackboneOutputs(nn.Module):
    """Every output of a model's backbone, as a tuple."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.backbone = getattr(model, 'backbone', model)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        out = self.backbone(x)
        return tuple(out) if isinstance(out, (list, tuple)) else (out, )


class TensorOutputs(nn.Module):
    """A segmentor or pose estimator as its ``mode='tensor'`` output
    (segmentation logits at 1/4 size, heatmaps), without pre- or
    post-processing."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> TensorOrTuple:
        return self.model._forward(x)


class ClassScores(nn.Module):
    """A recognizer's class scores (before softmax) of a clip batch
    (N, C, T, H, W): backbone, neck and ``cls_head`` of one view per clip
    (MMAction2's ``mode='tensor'`` stops at the features)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, _ = self.model.extract_feat(x.unsqueeze(1))
        return self.model.cls_head(feats)


def export_module(model: nn.Module, backbone_only: bool = False) -> nn.Module:
    """The module whose forward is exported for ``model``.

    Raises:
        NotImplementedError: a detector other than a two-stage one with an
            RPN and a standard or cascade RoI head (see
            :class:`~.detector.DetectorOutputs`), or a model of no known
            kind.
    """
    if backbone_only:
        return BackboneOutputs(model)
    kind = type(model).__module__.split('.')[0]
    if kind == 'mmdet':
        return DetectorOutputs(model)
    if kind == 'mmaction' and hasattr(model, 'cls_head'):
        return ClassScores(model)
    if kind in ('mmseg', 'mmpose') and hasattr(model, '_forward'):
        return TensorOutputs(model)
    if kind == 'uniformer_mm':  # a bare backbone
        return BackboneOutputs(model)
    raise NotImplementedError(
        f'no ONNX export for a {type(model).__name__} ({kind}); export its '
        'backbone with --backbone-only')


def _movedim_symbolic(g, self, source, destination):
    """``aten::movedim`` as one ``Transpose`` with a valid permutation.

    PyTorch's own symbolic writes negative dims (``movedim(1, -1)``, used
    by every block) into ``perm`` as they are, which ONNX forbids and
    which corrupts the exporter's shape inference downstream.
    """
    from torch.onnx import symbolic_helper
    rank = symbolic_helper._get_tensor_rank(self)
    src, dst = ([
        int(d) % rank
        for d in symbolic_helper._maybe_get_const(v, 't').view(-1).tolist()
    ] for v in (source, destination))
    rest = [d for d in range(rank) if d not in src]
    perm = [None] * rank
    for s, d in zip(src, dst):
        perm[d] = s
    free = iter(rest)
    perm = [next(free) if p is None else p for p in perm]
    if perm == list(range(rank)):
        return self
    return g.op('Transpose', self, perm_i=perm)


@contextlib.contextmanager
def _symbolics(opset: int):
    """Our ``aten::movedim`` symbolic for the duration of one export."""
    torch.onnx.register_custom_op_symbolic('aten::movedim', _movedim_symbolic,
                                           opset)
    try:
        yield
    finally:
        torch.onnx.unregister_custom_op_symbolic('aten::movedim', opset)


def _dynamic_axes(ndim: int, names: Sequence[str]) -> Dict[str, Dict]:
    axes = ({
        0: 'batch',
        2: 'height',
        3: 'width'
    } if ndim == 4 else {
        0: 'batch',
        2: 'frames',
        3: 'height',
        4: 'width'
    })
    return {name: axes for name in names}


def fix_graph(path: str) -> None:
    """Make the traced file loadable and its declared shapes honest.

    * A ``Transpose`` with negative ``perm`` entries, which ONNX Runtime
      rejects (PyTorch's ``movedim`` symbolic writes them; ours, used by
      :func:`export_onnx`, does not), gets them modulo the rank.
    * The tracer writes the export size's intermediate and output shapes;
      those are dropped (outputs keep their rank, with named dims), so the
      runtime infers them at each size.
    """
    import onnx
    model = onnx.load(path)
    for node in model.graph.node:
        if node.op_type != 'Transpose':
            continue
        for attr in node.attribute:
            if attr.name == 'perm' and any(p < 0 for p in attr.ints):
                perm = [p % len(attr.ints) for p in attr.ints]
                del attr.ints[:]
                attr.ints.extend(perm)
    del model.graph.value_info[:]
    for out in model.graph.output:
        for i, dim in enumerate(out.type.tensor_type.shape.dim):
            dim.Clear()
            dim.dim_param = f'{out.name}_dim{i}'
    onnx.checker.check_model(model)
    onnx.save(model, path)


def export_onnx(module: nn.Module,
                sample: torch.Tensor,
                path: str,
                dynamic: bool = False,
                opset: int = OPSET) -> List[str]:
    """Export ``module(sample)`` to ``path`` in its exportable configuration.

    Args:
        module (nn.Module): From :func:`export_module` or a backbone.
        sample (Tensor): An input batch (N, C, H, W) or (N, C, T, H, W).
        path (str): The .onnx file to write.
        dynamic (bool): Batch, (frames,) height and width dynamic.
        opset (int): ONNX opset. Defaults to 17.

    Returns:
        list[str]: The output names.

    Raises:
        NotExportableError: token pruning with ``dynamic`` (see
            :func:`~.exportable.check_exportable`).
    """
    check_exportable(module, dynamic)
    with exportable(module):
        out = module(sample)
        n_out = len(out) if isinstance(out, (list, tuple)) else 1
        names = getattr(module, 'output_names', None) or (
            ['output'] if n_out == 1 else [f'output{i}' for i in range(n_out)])
        with _symbolics(opset):
            torch.onnx.export(
                module, (sample, ),
                path,
                dynamo=False,
                input_names=['input'],
                output_names=names,
                dynamic_axes=(_dynamic_axes(sample.dim(), ['input'])
                              if dynamic else None),
                opset_version=opset)
    fix_graph(path)
    print_log(
        f'exported {type(module).__name__} to {osp.abspath(path)} '
        f'(input {tuple(sample.shape)}, '
        f'{"dynamic" if dynamic else "fixed"} shapes)', 'current')
    return names


def relative_error(ref: torch.Tensor, out) -> float:
    """``max |out - ref| / max |ref|``: the error relative to the output's
    scale (element-wise relative errors blow up at values near zero)."""
    ref = ref.detach().float()
    out = torch.as_tensor(out).float()
    if ref.shape != out.shape:
        raise ValueError(f'ONNX output shape {tuple(out.shape)} differs from '
                         f'PyTorch {tuple(ref.shape)}')
    scale = ref.abs().max().clamp_min(torch.finfo(torch.float32).tiny)
    return float((out - ref).abs().max() / scale)


def onnx_session(path: str, threads: Optional[int] = None):
    """An ONNX Runtime CPU session of ``path``."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(
        path, options, providers=['CPUExecutionProvider'])


def verify_onnx(module: nn.Module, path: str,
                inputs: Sequence[torch.Tensor]) -> List[float]:
    """Largest relative difference (:func:`relative_error`, over all
    outputs) between ONNX Runtime and PyTorch for each input batch.

    PyTorch runs ``module`` as it is (its own speed switches, eval mode),
    so the check covers the switches the export turned off.
    """
    session = onnx_session(path)
    errors = []
    for x in inputs:
        with torch.no_grad():
            ref = module.eval()(x)
        refs = list(ref) if isinstance(ref, (list, tuple)) else [ref]
        outs = session.run(None, {'input': x.numpy()})
        errors.append(max(relative_error(r, o) for r, o in zip(refs, outs)))
    return errors
