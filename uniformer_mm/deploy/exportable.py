"""Putting a model into a configuration that exports to standard operators.

The backbones and their blocks run fast paths (in-place residuals,
channels-last layouts, fused window attention, GELU recomputation, blocked
bf16 attention; one :class:`~uniformer_mm.models.ops.FastPaths` per module)
that give the same numbers as the official computation in eager mode but
either do not trace into standard ONNX operators or trace into a graph tied
to one memory layout. :func:`exportable` puts every module on the reference
paths for the duration of an export and restores them afterwards, so the
user passes no switch.
"""
import contextlib
from typing import Dict, Iterator, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models.ops import PRESETS

# Attribute -> value while exporting, set on every submodule that has the
# attribute. Looked up by name so that a module without one is left alone.
EXPORT_SETTINGS: Dict[str, object] = {
    # Every fast path off: the official softmax(q k^T) v on copied window
    # partitions (MatMul / Softmax in the graph instead of an SDPA
    # pattern); no in-place updates (they alias tensors the tracer records
    # as separate values); NCHW maps (memory formats do not exist in ONNX,
    # and plain maps trace to fewer Transpose nodes); no GELU recomputation
    # (a custom autograd Function does not trace; only used with grads).
    'fast_paths': PRESETS['reference'],
    # the NaN check is a data-dependent Python branch
    'debug': False,
}


class NotExportableError(RuntimeError):
    """A model whose computation cannot be expressed in a graph that is
    correct at every input size."""


def pruned_hourglass_blocks(model: nn.Module) -> List[str]:
    """Names of the hourglass backbones in ``model`` that drop tokens
    (a prune ratio below 1 in some block)."""
    names = []
    for name, module in model.named_modules():
        ratios = getattr(module, 'arch_settings', {}).get('prune_ratios')
        if ratios and any(r < 1 for stage in ratios for r in stage):
            names.append(name or type(module).__name__)
    return names


def check_exportable(model: nn.Module, dynamic: bool) -> None:
    """Raise :class:`NotExportableError` for what cannot export correctly.

    Token pruning (``UniFormerLight`` / ``UniFormerLight3D`` with prune
    ratios below 1) keeps ``int(N * prune_ratio)`` tokens, a count computed
    in Python from the token number N: a traced graph stores the count of
    the export size and gives wrong numbers (or fails) at any other size.
    Such models export only with fixed shapes.
    """
    pruned = pruned_hourglass_blocks(model)
    if dynamic and pruned:
        raise NotExportableError(
            f'{", ".join(pruned)}: the hourglass (token pruning) backbone '
            'cannot be exported with dynamic shapes: each pruning block '
            'keeps int(N * prune_ratio) of its N tokens, a data-dependent '
            'token selection whose count the traced graph would fix to the '
            'export size. Export without --dynamic (the graph then runs at '
            'the export size only), or use an unpruned arch '
            '(uniformer_mm.models.arch.unpruned_arch, every ratio 1); a '
            'dynamic graph would need the kept count computed as a tensor '
            'from the input shape (Shape/Mul/Floor and TopK with a tensor k)')


_MISSING = object()


def _scale_upsample(module: nn.Module):
    """An exportable forward for MMSegmentation's ``Upsample`` by a whole
    scale factor, or None.

    Its forward computes the output size as ``int(side * scale)`` in
    Python, which a traced graph stores as the export size's constant; an
    interpolation by the factor itself traces to a ``Resize`` by scales and
    gives the same numbers (the same source-to-output ratio).
    """
    if type(module).__name__ != 'Upsample' or not type(
            module).__module__.startswith('mmseg.'):
        return None
    factor = module.scale_factor
    if module.size or not isinstance(factor, float) or factor % 1:
        return None

    def forward(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(
            x,
            scale_factor=factor,
            mode=module.mode,
            align_corners=module.align_corners)

    return forward


def _adaptive_avg_pool(module: nn.Module):
    """An exportable forward for ``nn.AdaptiveAvgPool2d`` to a grid larger
    than 1x1 (UperNet's pyramid pooling), or None.

    ONNX has no adaptive pooling, and PyTorch's exporter refuses it when
    the input size is dynamic. Each output cell is the mean of its bin,
    rows ``floor(i H / s)`` to ``ceil((i + 1) H / s)`` as in PyTorch; the
    bin edges are traced from the input size.
    """
    if type(module) is not nn.AdaptiveAvgPool2d:
        return None
    size = module.output_size
    out_h, out_w = (size, size) if isinstance(size, int) else size
    if None in (out_h, out_w) or (out_h, out_w) == (1, 1):
        return None

    def edges(i: int, n: int, length) -> Tuple:
        return (i * length) // n, ((i + 1) * length + n - 1) // n

    def forward(x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        rows = []
        for i in range(out_h):
            h0, h1 = edges(i, out_h, H)
            cells = []
            for j in range(out_w):
                w0, w1 = edges(j, out_w, W)
                cells.append(x[..., h0:h1, w0:w1].mean((-2, -1), keepdim=True))
            rows.append(torch.cat(cells, dim=-1))
        return torch.cat(rows, dim=-2)

    return forward


def _forward_replacements(model: nn.Module) -> List[Tuple[nn.Module, object]]:
    """(module, exportable forward) for the codebases' modules whose own
    forward bakes the input size into a traced graph."""
    found = []
    for module in model.modules():
        forward = _scale_upsample(module) or _adaptive_avg_pool(module)
        if forward is not None:
            found.append((module, forward))
    return found


def _settings(model: nn.Module) -> List[Tuple[nn.Module, str, object]]:
    """(module, attribute, own value or _MISSING) of every switch to change,
    in this project's modules only (a codebase's head may use the names)."""
    found = []
    for module in model.modules():
        if not type(module).__module__.startswith('uniformer_mm.'):
            continue
        for attr in EXPORT_SETTINGS:
            if hasattr(module, attr):
                found.append((module, attr, vars(module).get(attr, _MISSING)))
    return found


@contextlib.contextmanager
def exportable(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block ``model`` is in eval mode, float32, with every
    switch of :data:`EXPORT_SETTINGS` on its plain path, the
    modules that do not export at dynamic sizes (MMSegmentation's
    ``Upsample``, adaptive average pooling) on an equivalent exportable
    forward and autograd off; on exit its switches, forwards, training
    mode and grad mode are restored.

    Raises:
        TypeError: ``model`` has parameters in another dtype than float32
            (the bf16 attention path is an eager-mode CPU optimisation).
    """
    dtypes = {p.dtype for p in model.parameters()}
    if dtypes - {torch.float32}:
        raise TypeError(
            'export a float32 model, got parameters in '
            f'{sorted(map(str, dtypes))}; call model.float() first '
            '(bf16/fp16 paths are eager-mode optimisations)')
    saved = _settings(model)
    forwards = _forward_replacements(model)
    training = model.training
    try:
        for module, attr, _ in saved:
            setattr(module, attr, EXPORT_SETTINGS[attr])
        for module, forward in forwards:
            module.forward = forward  # shadows the class's method
        model.eval()
        with torch.no_grad():
            yield model
    finally:
        for module, _ in forwards:
            del module.forward
        for module, attr, value in saved:
            if value is _MISSING:  # back to the class default
                delattr(module, attr)
            else:
                setattr(module, attr, value)
        model.train(training)
