"""Fine-tuning from a whole-model checkpoint trained on another class count.

A converted official checkpoint (``tools/convert_official.py``) holds the
whole zoo model: backbone, neck and heads for COCO's 80 classes, ADE20K's
150, Kinetics-400's 400 or COCO's 17 keypoints. Fine-tuning it on a data
set with K classes needs everything but the class-specific layers. MMEngine's
plain ``load_from`` loads non-strictly and mentions the skipped tensors in
one ``size mismatch`` warning among the model's own messages, and it loads
just as quietly a checkpoint of another backbone.

:class:`FineTuneRunner` (``runner_type = 'FineTuneRunner'`` next to
``load_from``) loads ``load_from`` with :func:`load_finetune_state` instead
when training starts:

* every tensor whose shape matches is loaded;
* a tensor is skipped only when it belongs to a head and its first dimension
  is the head's class (or keypoint) count ``K`` in the model and a
  consistent count ``K'`` in the checkpoint (``K``, ``K + 1`` or ``4K``
  rows: classifier, background-inclusive classifier, per-class box
  regression); it keeps the value the model's ``init_weights`` gave it, and
  the log has one line per skipped tensor (name, checkpoint shape, model
  shape, reason);
* any other difference (a tensor of another shape in the backbone or neck,
  a missing or unexpected tensor) raises :class:`CheckpointMismatchError`
  naming each tensor.

Resuming (``resume=True``), validation and testing load strictly by shape:
their checkpoint comes from a run of this config, and one whose heads do not
fit the model is refused rather than evaluated with untrained heads.
"""
import logging
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint
from torch import nn

from .layout import listing, strip_ddp_prefix

# rows of a class-specific layer, as ``a * K + b``: K classes (classifier,
# mask / segmentation / heatmap logits), K + 1 (a softmax classifier with a
# background class), 4K (class-specific box regression)
CLASS_ROW_FORMS = ((1, 0), (1, 1), (4, 0))
_FORM_TEXT = {(1, 0): 'classes', (1, 1): 'classes + 1', (4, 0): '4 x classes'}


class CheckpointMismatchError(ValueError):
    """The checkpoint differs from the model in more than the class-specific
    layers (another backbone, neck or head design)."""


@dataclass
class SkippedTensor:
    """A checkpoint tensor that was not loaded, and why."""
    name: str
    checkpoint_shape: Tuple[int, ...]
    model_shape: Tuple[int, ...]
    reason: str

    def line(self) -> str:
        """The log line of this tensor."""
        return (f'skipped {self.name}: checkpoint shape '
                f'{list(self.checkpoint_shape)}, model shape '
                f'{list(self.model_shape)}: {self.reason}; kept as the '
                'model initialised it')


@dataclass
class FineTuneLoadReport:
    """What :func:`load_finetune_state` loaded and skipped."""
    loaded: List[str] = field(default_factory=list)
    skipped: List[SkippedTensor] = field(default_factory=list)


def _class_count_owner(model: nn.Module,
                       name: str) -> Optional[Tuple[str, int, str]]:
    """``(module name, K, attribute)`` of the head module that owns the
    tensor ``name`` and defines its class count; None outside heads."""
    parts = name.split('.')[:-1]
    if not parts or 'head' not in parts[0]:
        return None
    modules = dict(model.named_modules())
    for depth in range(len(parts), 0, -1):
        owner = '.'.join(parts[:depth])
        module = modules.get(owner)
        if module is None:
            continue
        count = getattr(module, 'num_classes', None)
        if isinstance(count, int) and not isinstance(count, bool):
            return owner, count, 'classes'
        # MMPose heatmap heads: one output channel per keypoint
        count = getattr(module, 'out_channels', None)
        if type(module).__name__.endswith('Head') and isinstance(count, int):
            return owner, count, 'keypoints'
    return None


def _class_count_reason(model: nn.Module, name: str, ckpt_shape: tuple,
                        model_shape: tuple,
                        counts: Dict[str, int]) -> Optional[str]:
    """Why ``name`` may be skipped, or None when the shapes differ for
    another reason. ``counts`` keeps the checkpoint's class count found
    per head, so that all tensors of a head agree on it."""
    if len(ckpt_shape) != len(model_shape) or \
            ckpt_shape[1:] != model_shape[1:]:
        return None
    owner = _class_count_owner(model, name)
    if owner is None:
        return None
    module, count, what = owner
    for a, b in CLASS_ROW_FORMS:
        if model_shape[0] != a * count + b:
            continue
        theirs, rest = divmod(ckpt_shape[0] - b, a)
        if rest or theirs < 1 or theirs == count:
            continue
        if counts.setdefault(module, theirs) != theirs:
            continue
        return (f'{what} differ ({module}: checkpoint {theirs}, model '
                f'{count}; rows = '
                f'{_FORM_TEXT[(a, b)].replace("classes", what)})')
    return None


def _listing(title: str, items: Sequence[str]) -> str:
    return f'{title}\n  ' + listing(list(items), sep='\n  ')


def load_finetune_state(model: nn.Module,
                        state_dict: Dict[str, torch.Tensor],
                        allow_class_change: bool = True,
                        source: str = 'the checkpoint',
                        logger='current') -> FineTuneLoadReport:
    """Load a whole-model ``state_dict`` of the same architecture, skipping
    only the class-specific tensors whose class count differs.

    Args:
        model (nn.Module): The model (unwrapped), already initialised.
        state_dict (dict): The checkpoint's tensors, keys as the model's.
        allow_class_change (bool): Skip class-specific tensors of another
            class count (fine-tuning). False refuses them too (testing).
            Defaults to True.
        source (str): The checkpoint's name in messages.
        logger: Where the one-line-per-tensor report goes (``print_log``).

    Returns:
        FineTuneLoadReport: The loaded names and the skipped tensors.

    Raises:
        CheckpointMismatchError: A tensor is missing, unexpected or of
            another shape for any reason but the class count.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    report = FineTuneLoadReport()
    counts: Dict[str, int] = {}
    refused = []
    for name, value in state_dict.items():
        if name not in own:
            continue
        ckpt_shape = tuple(value.shape)
        model_shape = tuple(own[name].shape)
        if ckpt_shape == model_shape:
            report.loaded.append(name)
            continue
        reason = _class_count_reason(model, name, ckpt_shape, model_shape,
                                     counts)
        if reason is None or not allow_class_change:
            refused.append(f'{name}: checkpoint {list(ckpt_shape)}, model '
                           f'{list(model_shape)}' +
                           (f' ({reason})' if reason else ''))
        else:
            report.skipped.append(
                SkippedTensor(name, ckpt_shape, model_shape, reason))
    if missing or unexpected or refused:
        parts = [
            f'{source} does not fit this model beyond its class '
            'count:'
            if allow_class_change else f'{source} does not fit this model:'
        ]
        if refused:
            parts.append(_listing('tensors of another shape:', refused))
        if missing:
            parts.append(
                _listing('tensors the model has and the '
                         'checkpoint lacks:', missing))
        if unexpected:
            parts.append(
                _listing('tensors the checkpoint has and the model '
                         'lacks:', unexpected))
        parts.append(
            'Convert the official file for the zoo config your config '
            'inherits (tools/convert_official.py --config ZOO_CONFIG), keep '
            'that config\'s backbone and neck, and change only the class '
            'count (num_classes / out_channels)' if allow_class_change else
            'Test or resume with a checkpoint written by a run of this '
            'config (its heads have this class count).')
        raise CheckpointMismatchError('\n'.join(parts))
    skipped = {s.name for s in report.skipped}
    model.load_state_dict(
        {
            k: v
            for k, v in state_dict.items() if k not in skipped
        },
        strict=False)
    for item in report.skipped:
        print_log(
            f'load_from: {item.line()}', logger=logger, level=logging.WARNING)
    print_log(
        f'load_from: {len(report.loaded)} of {len(own)} tensors loaded from '
        f'{source}, {len(report.skipped)} skipped (class-specific, other '
        'class count)',
        logger=logger,
        level=logging.INFO)
    return report


def checkpoint_state_dict(checkpoint, revise_keys=()) -> dict:
    """The tensors of a loaded checkpoint (``state_dict`` of a whole-model
    file, or a bare state dict), without a DDP ``module.`` prefix and with
    ``revise_keys`` (``(pattern, replacement)`` pairs, as MMEngine's)
    applied."""
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else None
    if not isinstance(state, dict):
        raise CheckpointMismatchError(
            f'expected a checkpoint dict with a state_dict, got '
            f'{type(checkpoint).__name__}')
    state = strip_ddp_prefix({
        k: v
        for k, v in state.items() if isinstance(v, torch.Tensor)
    })
    for pattern, repl in revise_keys:
        state = {re.sub(pattern, repl, k): v for k, v in state.items()}
    return state


@RUNNERS.register_module()
class FineTuneRunner(Runner):
    """A :class:`~mmengine.runner.Runner` whose ``load_from`` loads through
    :func:`load_finetune_state`: for training, class-specific tensors of
    another class count are skipped (one log line each) and any other
    mismatch is an error; for resuming, validation and testing, every
    tensor must fit.

    Use it in a config with ``runner_type = 'FineTuneRunner'`` (and
    ``custom_imports = dict(imports=['uniformer_mm.checkpoints.finetune'])``
    when the tools do not import ``uniformer_mm``).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._finetune_training = False
        self.finetune_report: Optional[FineTuneLoadReport] = None

    def train(self) -> nn.Module:
        self._finetune_training = True
        try:
            return super().train()
        finally:
            self._finetune_training = False

    def resume(self, *args, **kwargs):
        training, self._finetune_training = self._finetune_training, False
        try:
            return super().resume(*args, **kwargs)
        finally:
            self._finetune_training = training

    def load_checkpoint(self,
                        filename: str,
                        map_location='cpu',
                        strict: bool = False,
                        revise_keys: Sequence = ()):
        """Load ``filename`` into the model as described in the class
        docstring (``strict`` is ignored: the rules above apply; a DDP
        ``module.`` prefix is always removed, ``revise_keys`` renames
        further)."""
        checkpoint, self.finetune_report = load_runner_checkpoint(
            self, filename, self._finetune_training, map_location, revise_keys)
        return checkpoint


def _origin(checkpoint) -> str:
    """Where a training checkpoint seems to come from (its run's name and
    codebase), or ''."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    if not isinstance(meta, dict):
        return ''
    scope = re.search(r"default_scope\s*=\s*'(\w+)'", str(meta.get('cfg', '')))
    parts = [f"run {meta['experiment_name']!r}"
             ] if meta.get('experiment_name') else []
    if scope:
        parts.append(f'codebase {scope.group(1)}')
    return f' (the file seems to come from {", ".join(parts)})' \
        if parts else ''


def check_checkpoint_fits(model: nn.Module, filename: str) -> None:
    """Refuse ``filename`` unless every tensor fits ``model`` (for the
    inferencers, which load non-strictly); the fitting tensors are loaded
    again, which changes nothing.

    Raises:
        CheckpointMismatchError: listing the missing, unexpected and
            other-shaped tensors, and where the file seems to come from.
    """
    from .io import load_checkpoint_file
    checkpoint = load_checkpoint_file(filename)
    try:
        load_finetune_state(
            model,
            checkpoint_state_dict(checkpoint),
            allow_class_change=False,
            source=filename)
    except CheckpointMismatchError as error:
        raise CheckpointMismatchError(
            f'{error}{_origin(checkpoint)}\nPass --allow-partial-checkpoint '
            '(allow_partial_checkpoint=True) to load it anyway.') from None


def load_runner_checkpoint(runner,
                           filename: str,
                           allow_class_change: bool = False,
                           map_location='cpu',
                           revise_keys: Sequence = ()):
    """Load ``filename`` into ``runner``'s model through
    :func:`load_finetune_state` (every tensor must fit, except
    class-specific ones when ``allow_class_change``); marks the runner
    loaded. ``tools/test.py`` uses it to refuse a checkpoint of another
    model.

    Returns:
        tuple: the checkpoint and the :class:`FineTuneLoadReport`.
    """
    checkpoint = _load_checkpoint(filename, map_location=map_location)
    runner.call_hook('after_load_checkpoint', checkpoint=checkpoint)
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    if type(model).__name__.endswith('TTAModel'):  # --tta wraps the model
        model = model.module
    try:
        report = load_finetune_state(
            model,
            checkpoint_state_dict(checkpoint, revise_keys),
            allow_class_change=allow_class_change,
            source=filename,
            logger=runner.logger)
    except CheckpointMismatchError as error:
        raise CheckpointMismatchError(f'{error}{_origin(checkpoint)}') \
            from None
    runner._has_loaded = True
    runner.logger.info(f'Load checkpoint from {filename}')
    return checkpoint, report
