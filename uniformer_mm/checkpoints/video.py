"""Official SlowFast-trained video checkpoints as whole MMAction2 recognizers.

The official video models (``video_classification/`` upstream, a SlowFast
fork) are saved as ``{'model_state': {...}, 'cfg': ..., ...}``. Inside,
the backbone keys are at the top level with our backbone's names
(``patch_embed1.proj.weight``, ``blocks3.2.attn.qkv.weight`` ...) and the
classifier is one ``nn.Linear`` called ``head``. A ``Recognizer3D`` with a
``UniFormer3D`` backbone and an ``I3DHead`` has the same tensors as
``backbone.*`` and ``cls_head.fc_cls.*``:
:func:`convert_slowfast_to_recognizer`
renames them.

The classifier's rows follow the class order of the label files the
official run trained with, which is not MMAction2's:

* Kinetics-400: the official ``kinetics_400_categroies.txt`` lists the 400
  classes in a non-alphabetical order (``riding a bike`` is 0), MMAction2's
  ``label_map_k400.txt`` alphabetically. Not one class has the same index,
  so an official checkpoint evaluated on MMAction2-style annotation lists
  scores about 0% until its rows are permuted.
* Kinetics-600: the official ``k600_*_category.list`` files write
  ``massaging_persons_head 123`` where MMAction2 writes
  ``massaging person's head``, in another order.
* Something-Something V1/V2: the same 174 classes, ordered differently
  (V2 also writes ``[something]`` where MMAction2 writes ``something``).

:func:`build_label_remap` matches two such lists by name (exactly, or after
:func:`normalize_class_name`) and returns the index permutation that
:func:`convert_slowfast_to_recognizer` applies to the classifier rows.
"""
import os.path as osp
import re
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Union

import torch

from .layout import SHOWN, locate_state_dict

_HEAD = ('head.weight', 'head.bias')
# The hourglass models' class-token classifier: the official code trains it
# alongside ``head`` but predicts with ``head`` alone in eval mode, which is
# what the recognizer's I3DHead does; it has no place in the recognizer.
_CLASS_TOKEN_HEAD = ('head_cls.', 'norm_cls.')
_BACKBONE_KEY = re.compile(
    r'(patch_embed[1-4]|blocks[1-4]|norm|pos_drop|cls_upsample)\.|cls_token$')
_INDEXED_LINE = re.compile(r'^(?P<name>.*\S)\s+(?P<index>\d+)$')


def read_class_names(paths: Union[str, Sequence[str]]) -> List[str]:
    """Read a class list, in class-index order, from one or more label files.

    Two layouts are understood:

    * one name per line, the line number being the class index (MMAction2's
      ``label_map_*.txt``, the official ``sthv*/category.txt``);
    * ``<name><tab or spaces><index>`` on every line (the official
      ``kinetics_400_categroies.txt`` and ``k600_*_category.list``). The
      indices, over all files given together, must be exactly 0..N-1 and
      decide the order; this is how the official Kinetics-600 classes,
      split over two files, are read.

    Args:
        paths (str | Sequence[str]): The label file(s).

    Returns:
        list[str]: Class names; entry i is the name of class i.
    """
    if isinstance(paths, (str, bytes)) or hasattr(paths, '__fspath__'):
        paths = [paths]
    lines = []
    for path in paths:
        if not osp.isfile(path):
            raise FileNotFoundError(f'label file {str(path)!r} does not exist')
        with open(path, encoding='utf-8') as f:
            lines += [line.strip() for line in f if line.strip()]
    if not lines:
        raise ValueError(f'no class names in {list(map(str, paths))}')
    matches = [_INDEXED_LINE.match(line) for line in lines]
    if not all(matches):
        if len(paths) > 1:
            raise ValueError(
                'several label files can only be combined when every line '
                'is "<name> <index>"; give one plain list instead')
        return lines
    indices = [int(m['index']) for m in matches]
    names = [m['name'] for m in matches]
    if sorted(indices) != list(range(len(indices))) or len(
            set(names)) != len(names):
        if len(paths) > 1:
            raise ValueError(
                f'the "<name> <index>" lines of {list(map(str, paths))} do '
                f'not number {len(indices)} distinct classes 0..'
                f'{len(indices) - 1} exactly once')
        return lines  # plain names that merely end in a number
    ordered = [''] * len(indices)
    for name, index in zip(names, indices):
        ordered[index] = name
    return ordered


def normalize_class_name(name: str) -> str:
    """The spelling-independent key used to match class names across lists.

    Case, underscores, brackets, parentheses, quotes and repeated spaces are
    ignored: ``massaging_persons_head``, ``massaging person's head`` and
    ``Massaging  person's head`` have the same key, as do
    ``Putting [something] on a surface`` and ``Putting something on a
    surface``.
    """
    name = name.lower().replace('_', ' ')
    name = re.sub(r'[()\[\]\'"`]', '', name)
    return ' '.join(name.split())


def _match(names_from: Sequence[str], names_to: Sequence[str],
           key) -> Dict[str, int]:
    index = {}
    for i, name in enumerate(names_from):
        k = key(name)
        if k in index:
            raise ValueError(
                f'classes {names_from[index[k]]!r} and {name!r} of the '
                'checkpoint list cannot be told apart by name')
        index[k] = i
    return index


def build_label_remap(checkpoint_classes: Sequence[str],
                      dataset_classes: Sequence[str],
                      normalize: bool = True) -> torch.Tensor:
    """Index permutation from a checkpoint's class order to a dataset's.

    Args:
        checkpoint_classes (Sequence[str]): Class names in the order of the
            checkpoint's classifier rows (e.g. the official
            ``kinetics_400_categroies.txt``, read by
            :func:`read_class_names`).
        dataset_classes (Sequence[str]): Class names in the order of the
            labels of the data you evaluate or fine-tune on (e.g. MMAction2's
            ``label_map_k400.txt``).
        normalize (bool): Match names that are not identical by
            :func:`normalize_class_name`. Identical names always match first.
            Defaults to True.

    Returns:
        Tensor: ``remap`` (int64, one entry per dataset class) such that
        ``weight[remap]`` puts the checkpoint's row of dataset class ``i`` at
        row ``i``; the logits of the remapped classifier are
        ``old_logits[:, remap]``.

    Raises:
        ValueError: The lists differ in length, hold duplicates, or a
            dataset class has no counterpart (the names are listed).
    """
    src, dst = list(checkpoint_classes), list(dataset_classes)
    if len(src) != len(dst):
        raise ValueError(
            f'the checkpoint lists {len(src)} classes and the dataset '
            f'{len(dst)}; a class-order remap needs the same classes on both '
            'sides (wrong label file, e.g. K400 against K600?)')
    if len(set(dst)) != len(dst):
        dup = sorted({n for n in dst if dst.count(n) > 1})
        raise ValueError(f'the dataset class list repeats {dup[:SHOWN]}')
    exact = _match(src, src, key=lambda n: n)
    loose = _match(src, src, key=normalize_class_name) if normalize else {}
    remap, unknown = [], []
    for name in dst:
        if name in exact:
            remap.append(exact[name])
        elif normalize_class_name(name) in loose:
            remap.append(loose[normalize_class_name(name)])
        else:
            unknown.append(name)
    if unknown:
        how = ('even after normalize_class_name()'
               if normalize else 'exactly (normalize=False)')
        raise ValueError(
            f'{len(unknown)} dataset classes are not in the checkpoint\'s '
            f'class list {how}: {unknown[:SHOWN]}; check that both label '
            'files belong to the same dataset')
    if len(set(remap)) != len(remap):
        raise ValueError(
            'two dataset classes map to the same checkpoint class; their '
            'names differ only in case or punctuation -- pass '
            'normalize=False or fix the label files')
    return torch.tensor(remap, dtype=torch.long)


def _slowfast_state_dict(checkpoint: Any) -> Dict[str, torch.Tensor]:
    container, state_dict = locate_state_dict(checkpoint)
    if container in ('state_dict', 'model'):
        raise ValueError(
            "this is not a SlowFast video checkpoint (it has 'state_dict' or "
            "'model', not 'model_state'): OpenMMLab files load with "
            'load_from as they are, and ImageNet files go to the backbone '
            "through init_cfg=dict(type='Pretrained', checkpoint=...)")
    return state_dict


def convert_slowfast_to_recognizer(
        checkpoint: Any,
        label_remap: Optional[Union[torch.Tensor, Sequence[int]]] = None,
        num_classes: Optional[int] = None) -> 'OrderedDict[str, torch.Tensor]':
    """Rename an official video checkpoint to MMAction2 recognizer keys.

    ``head.weight`` / ``head.bias`` become ``cls_head.fc_cls.weight`` /
    ``.bias`` (an ``I3DHead``), with their rows permuted by ``label_remap``;
    the hourglass models' class-token classifier (``head_cls``,
    ``norm_cls``: trained, never used for predictions) is dropped; every
    other tensor becomes ``backbone.<name>`` unchanged (our
    ``UniFormer3D`` / ``UniFormerLight3D`` use the official names).

    Args:
        checkpoint (dict): The loaded official file
            (``{'model_state': ...}``) or its ``model_state`` dict. Load it
            with :func:`uniformer_mm.checkpoints.load_checkpoint_file`
            (weights-only).
        label_remap (Tensor | Sequence[int], optional): From
            :func:`build_label_remap`; ``None`` keeps the official class
            order. Defaults to None.
        num_classes (int, optional): The class count the target config's
            ``cls_head.num_classes`` expects; checked against the
            checkpoint's head. Defaults to None (not checked).

    Returns:
        OrderedDict: ``backbone.*`` and ``cls_head.fc_cls.*`` tensors, to be
        saved as ``{'state_dict': ...}`` for ``load_from`` or loaded with
        ``recognizer.load_state_dict``.

    Raises:
        ValueError: Not a SlowFast layout, no or a malformed ``head``, keys
            that are neither backbone nor head, a class count that disagrees
            with ``num_classes`` or ``label_remap``, or an invalid remap.
    """
    state_dict = _slowfast_state_dict(checkpoint)
    missing = [k for k in _HEAD if k not in state_dict]
    if missing:
        raise ValueError(
            f'the checkpoint has no classifier {missing} (keys start with '
            f'{sorted({k.split(".")[0] for k in state_dict})[:SHOWN]}); '
            'for a backbone-only file use the backbone\'s init_cfg instead')
    weight, bias = state_dict['head.weight'], state_dict['head.bias']
    if weight.dim() != 2 or bias.shape != weight.shape[:1]:
        raise ValueError(f'head.weight {tuple(weight.shape)} / head.bias '
                         f'{tuple(bias.shape)} is not a linear classifier')
    classes = weight.shape[0]
    if num_classes is not None and num_classes != classes:
        raise ValueError(
            f'the checkpoint\'s head has {classes} classes but the config '
            f'expects cls_head.num_classes={num_classes}: a {classes}-class '
            'checkpoint belongs to another dataset (K400 400, K600 600, '
            'SSv1/SSv2 174); to fine-tune from it, load only the backbone '
            "(init_cfg=dict(type='Pretrained', checkpoint=...))")
    if label_remap is not None:
        remap = torch.as_tensor(label_remap, dtype=torch.long)
        if remap.dim() != 1 or sorted(remap.tolist()) != list(range(classes)):
            raise ValueError(
                f'label_remap must be a permutation of 0..{classes - 1} (one '
                f'entry per class of the {classes}-class head); got '
                f'{remap.numel()} entries')
        weight, bias = weight[remap], bias[remap]
    state_dict = OrderedDict((k, v) for k, v in state_dict.items()
                             if not k.startswith(_CLASS_TOKEN_HEAD))
    foreign = [
        k for k in state_dict if k not in _HEAD and not _BACKBONE_KEY.match(k)
    ]
    if foreign:
        raise ValueError(
            f'{len(foreign)} keys are neither UniFormer backbone nor head: '
            f'{foreign[:SHOWN]}; this converter handles the official '
            'UniFormer video models only')
    out = OrderedDict(
        (f'backbone.{k}', v) for k, v in state_dict.items() if k not in _HEAD)
    out['cls_head.fc_cls.weight'] = weight.clone()
    out['cls_head.fc_cls.bias'] = bias.clone()
    return out


def remap_from_label_files(checkpoint_label_files: Union[str, Sequence[str]],
                           dataset_label_files: Union[str, Sequence[str]],
                           normalize: bool = True) -> torch.Tensor:
    """:func:`build_label_remap` from label files (see
    :func:`read_class_names`).

    E.g. ``remap_from_label_files('kinetics_400_categroies.txt',
    'label_map_k400.txt')``; the official Kinetics-600 order is two files,
    ``['k600_common_category.list', 'k600_special_category.list']``.
    """
    return build_label_remap(
        read_class_names(checkpoint_label_files),
        read_class_names(dataset_label_files),
        normalize=normalize)
