"""Deterministic synthetic data for the demos: coloured shapes on textured
backgrounds.

Two layouts are generated on first use (nothing is downloaded, nothing is
committed):

* :func:`make_coco_instances` -- COCO-format **instance segmentation**::

      ROOT/images/train/000000.jpg ...      ROOT/images/val/...
      ROOT/annotations/instances_train.json ROOT/annotations/instances_val.json
      ROOT/manifest.json

  One category per shape type (:data:`SHAPE_CLASSES`, ids 1..K). Every
  annotation has an exact ``bbox`` (the extent of its polygon), a polygon
  ``segmentation`` and the ``area`` of that polygon as pycocotools rasterises
  it. The pixels of a shape in the image are exactly that rasterised mask
  (shapes never overlap), so annotations and pixels agree. The first train
  image -- and every ``empty_every``-th after it -- has no shapes at all.

* :func:`make_seg_dataset` -- ADE20K-style layout for **semantic
  segmentation**::

      ROOT/images/training/000000.jpg    ROOT/annotations/training/000000.png
      ROOT/images/validation/...         ROOT/annotations/validation/...
      ROOT/manifest.json

  Label PNGs are single-channel uint8: ``0`` = background, ``k`` = the k-th
  entry of :data:`SHAPE_CLASSES` (1-based). Unlike ADE20K, background is a
  real class (``reduce_zero_label=False``): the classes are
  :data:`SEG_CLASSES` = ``('background',) + SHAPE_CLASSES``, so label value ==
  class index and every value is in ``[0, len(SEG_CLASSES))``.

Each image is drawn from its own RNG stream ``(seed, split, index)``, so the
output is byte-for-byte reproducible and independent of how many images are
asked for. Generation is idempotent: ``ROOT/manifest.json`` (a
:class:`.generated.Manifest`) records the parameters, and a call with the
same parameters returns at once. A call with different parameters
regenerates the directory (only a directory this module
created, recognised by its manifest, is ever replaced). Output is written to
a temporary sibling directory and moved into place, so an interrupted or
concurrent run never leaves a half-written data set behind.

CLI::

    python -m uniformer_mm.datasets.synthetic --out data/synthetic_coco
    python -m uniformer_mm.datasets.synthetic --kind seg \
        --out data/synthetic_seg
"""
import argparse
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmengine.logging import print_log

from .generated import Manifest, generator_params, read_json, rng_stream

GENERATOR = 'uniformer_mm.datasets.synthetic'
GENERATOR_VERSION = 1
MANIFEST = 'manifest.json'

SHAPE_CLASSES: Tuple[str, ...] = ('circle', 'square', 'triangle')
SEG_CLASSES: Tuple[str, ...] = ('background', ) + SHAPE_CLASSES
# RGB, for visualisation only (shape colours in the images are random)
SHAPE_PALETTE: List[Tuple[int, int, int]] = [(220, 20, 60), (0, 114, 255),
                                             (60, 200, 60)]
SEG_PALETTE: List[Tuple[int, int, int]] = [(0, 0, 0)] + SHAPE_PALETTE

#: default locations, relative to the working directory (the repo root)
DEFAULT_COCO_ROOT = osp.join('data', 'synthetic_coco')
DEFAULT_SEG_ROOT = osp.join('data', 'synthetic_seg')

COCO_DEFAULTS = dict(
    num_train=600,
    num_val=100,
    image_size=128,
    min_shapes=1,
    max_shapes=4,
    min_size=0.15,
    max_size=0.4,
    empty_every=50,
    seed=0)
# the COCO set's, without empty images
SEG_DEFAULTS = dict(
    {
        k: v
        for k, v in COCO_DEFAULTS.items() if k != 'empty_every'
    },
    num_train=400,
    max_shapes=5,
    seed=1)

_SPLIT_CODE = {'train': 0, 'val': 1, 'training': 0, 'validation': 1}
_CIRCLE_VERTICES = 32


# --------------------------------------------------------------- drawing
def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A two-colour gradient with a weak random texture and pixel noise
    (float32 HxWx3, 0..255)."""
    c0 = rng.uniform(30, 225, 3)
    c1 = np.clip(c0 + rng.uniform(-60, 60, 3), 0, 255)
    theta = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / max(size - 1, 1)
    t = (np.cos(theta) * xx + np.sin(theta) * yy)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    # low-frequency blotches: upsampled coarse noise
    coarse = rng.normal(0, 1, (6, 6, 3)).astype(np.float32)
    img += 12 * cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    # stripes with a random frequency and direction
    phi = rng.uniform(0, np.pi)
    freq = rng.uniform(4, 14)
    stripes = np.sin(2 * np.pi * freq * (np.cos(phi) * xx + np.sin(phi) * yy))
    img += rng.uniform(0, 10) * stripes[..., None]
    img += rng.normal(0, 6, img.shape)
    return img.astype(np.float32)


def _polygon(rng: np.random.Generator, label: int, cx: float, cy: float,
             r: float) -> np.ndarray:
    """Vertices (N, 2) of a shape with circumradius ``r`` around (cx, cy)."""
    name = SHAPE_CLASSES[label]
    if name == 'circle':
        angles = np.linspace(0, 2 * np.pi, _CIRCLE_VERTICES, endpoint=False)
    elif name == 'square':
        angles = rng.uniform(0, np.pi / 2) + np.arange(4) * np.pi / 2
    elif name == 'triangle':
        angles = rng.uniform(0, 2 * np.pi) + np.arange(3) * 2 * np.pi / 3
    else:  # pragma: no cover - SHAPE_CLASSES is fixed
        raise ValueError(name)
    return np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], 1)


def _poly_mask(poly: np.ndarray, size: int) -> np.ndarray:
    """The mask pycocotools (and so mmdet's LoadAnnotations and COCOeval)
    rasterises for this polygon."""
    from pycocotools import mask as mask_utils
    rle = mask_utils.frPyObjects([poly.reshape(-1).tolist()], size, size)
    return mask_utils.decode(mask_utils.merge(rle)).astype(bool)


def _shape_colour(rng: np.random.Generator, bg: np.ndarray) -> np.ndarray:
    """A random colour far enough from the local background to be seen."""
    for _ in range(50):
        colour = rng.uniform(0, 255, 3)
        if np.linalg.norm(colour - bg) > 90:
            return colour
    return 255 - bg


def draw_scene(seed: int,
               split: str,
               index: int,
               image_size: int,
               min_shapes: int,
               max_shapes: int,
               min_size: float,
               max_size: float,
               empty: bool = False):
    """One image and its shapes.

    Returns:
        image (np.ndarray): HxWx3 uint8, BGR (OpenCV order).
        shapes (list[dict]): ``label`` (0-based index into
        :data:`SHAPE_CLASSES`), ``polygon`` (flat list x0, y0, x1, ...),
        ``bbox`` (x, y, w, h), ``mask`` (HxW bool), ``area`` (mask pixels).
    """
    rng = rng_stream(seed, _SPLIT_CODE[split], index)
    size = image_size
    img = _background(rng, size)
    shapes: List[Dict] = []
    occupied = np.zeros((size, size), bool)
    n = 0 if empty else int(rng.integers(min_shapes, max_shapes + 1))
    for _ in range(n):
        for _attempt in range(30):
            label = int(rng.integers(len(SHAPE_CLASSES)))
            r = rng.uniform(min_size, max_size) * size / 2
            cx, cy = rng.uniform(r + 1, size - 1 - r, 2)
            poly = _polygon(rng, label, cx, cy, r)
            poly = np.round(poly, 2)
            x0, y0 = poly.min(0)
            x1, y1 = poly.max(0)
            # keep a 2 px gap between shapes so masks never touch
            bx0, by0 = max(int(x0) - 2, 0), max(int(y0) - 2, 0)
            bx1, by1 = min(int(np.ceil(x1)) + 3,
                           size), min(int(np.ceil(y1)) + 3, size)
            if occupied[by0:by1, bx0:bx1].any():
                continue
            mask = _poly_mask(poly, size)
            if mask.sum() < 16:
                continue
            occupied[by0:by1, bx0:bx1] = True
            bg = img[mask].mean(0)
            colour = _shape_colour(rng, bg)
            shade = rng.normal(0, 4, (int(mask.sum()), 3))
            img[mask] = colour + shade
            shapes.append(
                dict(
                    label=label,
                    polygon=[float(v) for v in poly.reshape(-1)],
                    bbox=[
                        float(x0),
                        float(y0),
                        round(float(x1 - x0), 2),
                        round(float(y1 - y0), 2)
                    ],
                    mask=mask,
                    area=int(mask.sum())))
            break
    image = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return image, shapes


# ------------------------------------------------------------ manifests
def _publish(tmp: str, root: str) -> None:
    """Move the finished ``tmp`` tree to ``root`` (replacing only a data set
    of ours, recognised by its manifest)."""
    if osp.exists(root):
        # any readable manifest.json: also one of an earlier format
        if read_json(osp.join(root, MANIFEST)) is None and os.listdir(root):
            shutil.rmtree(tmp, ignore_errors=True)
            raise FileExistsError(
                f'{root} exists, is not empty and was not generated by '
                'uniformer_mm.datasets.synthetic (no manifest.json); '
                'choose another directory or remove it')
        old = root.rstrip('/\\') + f'.old-{os.getpid()}'
        os.replace(root, old)
        os.replace(tmp, root)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.makedirs(osp.dirname(osp.abspath(root)), exist_ok=True)
        try:
            os.replace(tmp, root)
        except OSError:  # another process published first
            shutil.rmtree(tmp, ignore_errors=True)


def _write_image(path: str, image: np.ndarray) -> None:
    ok, buf = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    with open(path, 'wb') as f:
        f.write(buf.tobytes())


def _coco_image(tmp: str, img_dir: str, index: int, image: np.ndarray,
                image_size: int) -> dict:
    """Write image ``index`` of a COCO split under ``tmp/img_dir`` and return
    its ``images`` entry (id ``index + 1``)."""
    name = f'{index:06d}.jpg'
    _write_image(osp.join(tmp, img_dir, name), image)
    return dict(
        id=index + 1, file_name=name, width=image_size, height=image_size)


def _dump_coco(path: str, description: str, images: List[dict],
               annotations: List[dict], categories: List[dict]) -> None:
    """Write a COCO annotation file (compact JSON: the files get large)."""
    coco = dict(
        info=dict(description=description, version=str(GENERATOR_VERSION)),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=categories)
    with open(path, 'w') as f:
        json.dump(coco, f, separators=(',', ':'))


def _write_coco_splits(tmp: str, splits: Dict[str, int], image_size: int,
                       ann_prefix: str, description: str,
                       categories: List[dict], draw: Callable,
                       split_stats: Callable) -> Tuple[List[str], dict]:
    """Write COCO splits under ``tmp``: ``images/<split>/`` and
    ``annotations/<ann_prefix>_<split>.json``.

    Args:
        tmp (str): The data set's folder.
        splits (dict): Images per split, in writing order.
        image_size (int): The (square) image side.
        ann_prefix (str): Annotation file names' prefix.
        description (str): The annotation files' ``info.description``.
        categories (list[dict]): Their ``categories``.
        draw (callable): ``draw(split, index)`` -> (image, the annotations
            of its objects without ``id`` and ``image_id``).
        split_stats (callable): ``split_stats(num_images, annotations)`` ->
            the split's statistics (beside its image count).

    Returns:
        tuple: The files written (relative to ``tmp``) and the statistics
        per split, as a ``writer`` of :func:`_generate` returns them.
    """
    os.makedirs(osp.join(tmp, 'annotations'))
    files, stats = [], {}
    for split, num in splits.items():
        img_dir = osp.join('images', split)
        os.makedirs(osp.join(tmp, img_dir))
        images, annotations = [], []
        for i in range(num):
            image, objects = draw(split, i)
            images.append(_coco_image(tmp, img_dir, i, image, image_size))
            annotations += [
                dict(id=len(annotations) + k + 1, image_id=i + 1, **fields)
                for k, fields in enumerate(objects)
            ]
        ann = osp.join('annotations', f'{ann_prefix}_{split}.json')
        _dump_coco(
            osp.join(tmp, ann), description, images, annotations, categories)
        files += [ann, img_dir]
        stats[split] = dict(images=num, **split_stats(num, annotations))
    return files, stats


def _generate(root: str, kind: str, params: dict, writer, verbose: bool):
    """Run ``writer(tmp)`` -> (files, stats) into a temporary sibling of
    ``root`` and publish it, unless ``root``'s manifest is current."""
    params = dict(kind=kind, version=GENERATOR_VERSION, **params)
    if Manifest(osp.join(root, MANIFEST), GENERATOR, params).current():
        if verbose:
            print_log(
                f'[synthetic] {root}: up to date ({params})', logger='current')
        return root
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(
        prefix=osp.basename(root.rstrip('/\\')) + '.partial-', dir=parent)
    try:
        files, stats = writer(tmp)
        Manifest(osp.join(tmp, MANIFEST), GENERATOR, params).write(
            state='done', files=files, stats=stats)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _publish(tmp, root)
    if verbose:
        print_log(
            f'[synthetic] wrote {kind} data set to {root}: {stats}',
            logger='current')
    return root


# ----------------------------------------------------------------- COCO
def make_coco_instances(root: str = DEFAULT_COCO_ROOT,
                        verbose: bool = True,
                        **params) -> str:
    """Generate (once) a COCO instance-segmentation set of shapes.

    Args:
        root: Output directory.
        verbose: Print what was done.
        **params: Overrides of :data:`COCO_DEFAULTS`:
            ``num_train`` / ``num_val``: images per split;
            ``image_size``: square image side in pixels (>= 32);
            ``seed``: base seed, every image has its own stream (seed,
            split, index);
            ``min_shapes`` / ``max_shapes``: shapes per image (inclusive
            range), fewer are drawn when no free space is found;
            ``min_size`` / ``max_size``: shape diameter as a fraction of the
            image side;
            ``empty_every``: train images ``0, empty_every, 2 *
            empty_every, ...`` have no shapes (0 = only image 0); val images
            always have shapes.

    Returns:
        ``root``.
    """
    params = generator_params(COCO_DEFAULTS, params, 'make_coco_instances')
    _check_params(params)

    empty_every, image_size = params['empty_every'], params['image_size']

    def draw(split, i):
        empty = split == 'train' and (i == 0 or (empty_every > 0
                                                 and i % empty_every == 0))
        image, shapes = _draw_shapes(params, split, i, empty)
        return image, [
            dict(
                category_id=s['label'] + 1,
                bbox=s['bbox'],
                area=s['area'],
                segmentation=[s['polygon']],
                iscrowd=0) for s in shapes
        ]

    def split_stats(num, annotations):
        return dict(
            instances=len(annotations),
            empty_images=num - len({a['image_id']
                                    for a in annotations}))

    def writer(tmp):
        return _write_coco_splits(
            tmp, _splits(params, 'train', 'val'), image_size, 'instances',
            'uniformer_mm synthetic shapes', [
                dict(id=k + 1, name=name, supercategory='shape')
                for k, name in enumerate(SHAPE_CLASSES)
            ], draw, split_stats)

    return _generate(root, 'coco_instances', params, writer, verbose)


# ------------------------------------------------------------ semantic
def make_seg_dataset(root: str = DEFAULT_SEG_ROOT,
                     verbose: bool = True,
                     **params) -> str:
    """Generate (once) an ADE20K-layout semantic segmentation set of shapes.

    Label value ``0`` is background, ``k >= 1`` the shape
    ``SHAPE_CLASSES[k - 1]`` (so label == index into :data:`SEG_CLASSES`;
    load with ``reduce_zero_label=False``). ``params`` override
    :data:`SEG_DEFAULTS`, as for :func:`make_coco_instances` (no empty
    images here).
    """
    params = generator_params(SEG_DEFAULTS, params, 'make_seg_dataset')
    _check_params(params)

    def writer(tmp):
        files, stats = [], {}
        image_size = params['image_size']
        for split, num in _splits(params, 'training', 'validation').items():
            img_dir = osp.join('images', split)
            ann_dir = osp.join('annotations', split)
            os.makedirs(osp.join(tmp, img_dir))
            os.makedirs(osp.join(tmp, ann_dir))
            pixels = np.zeros(len(SEG_CLASSES), np.int64)
            for i in range(num):
                image, shapes = _draw_shapes(params, split, i)
                label = np.zeros((image_size, image_size), np.uint8)
                for s in shapes:
                    label[s['mask']] = s['label'] + 1
                pixels += np.bincount(
                    label.reshape(-1), minlength=len(SEG_CLASSES))
                _write_image(osp.join(tmp, img_dir, f'{i:06d}.jpg'), image)
                ok = cv2.imwrite(osp.join(tmp, ann_dir, f'{i:06d}.png'), label)
                assert ok
            files += [img_dir, ann_dir]
            stats[split] = dict(
                images=num,
                pixel_fraction={
                    c: round(float(p) / max(int(pixels.sum()), 1), 4)
                    for c, p in zip(SEG_CLASSES, pixels)
                })
        return files, stats

    return _generate(root, 'seg', params, writer, verbose)


def _splits(params: dict, train: str, val: str) -> Dict[str, int]:
    """Split name -> image count, in writing order."""
    return {train: params['num_train'], val: params['num_val']}


def _draw_shapes(params: dict, split: str, index: int, empty: bool = False):
    """:func:`draw_scene` with a data set's parameters."""
    return draw_scene(
        params['seed'],
        split,
        index,
        params['image_size'],
        params['min_shapes'],
        params['max_shapes'],
        params['min_size'],
        params['max_size'],
        empty=empty)


def _check_sizes(p: dict, min_image_size: int) -> None:
    """Check the split sizes and image side every generator has."""
    if p['image_size'] < min_image_size:
        raise ValueError(f'image_size must be >= {min_image_size}, got '
                         f'{p["image_size"]}')
    if p['num_train'] < 1 or p['num_val'] < 1:
        raise ValueError('num_train and num_val must be >= 1')


def _check_params(p: dict) -> None:
    _check_sizes(p, 32)
    if not 1 <= p['min_shapes'] <= p['max_shapes']:
        raise ValueError('need 1 <= min_shapes <= max_shapes')
    if not 0 < p['min_size'] <= p['max_size'] < 1:
        raise ValueError('need 0 < min_size <= max_size < 1')


def _add_size_args(parser: argparse.ArgumentParser) -> None:
    """The options of the image generators' CLIs (unset: the defaults of
    the ``make_*`` function)."""
    parser.add_argument('--num-train', type=int)
    parser.add_argument('--num-val', type=int)
    parser.add_argument('--image-size', type=int)
    parser.add_argument('--seed', type=int)


def _size_overrides(args: argparse.Namespace) -> Dict[str, int]:
    """The options of :func:`_add_size_args` that were given."""
    return {
        k: getattr(args, k)
        for k in ('num_train', 'num_val', 'image_size', 'seed')
        if getattr(args, k) is not None
    }


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description='Generate the synthetic shape data sets of the demos '
        '(idempotent: nothing is done when ROOT already holds the same '
        'data set).')
    parser.add_argument(
        '--kind',
        choices=['coco', 'seg', 'both'],
        default='coco',
        help='coco: instance segmentation (COCO json); '
        'seg: semantic segmentation (ADE20K layout)')
    parser.add_argument(
        '--out',
        default=None,
        help=f'output directory (default {DEFAULT_COCO_ROOT}'
        f' / {DEFAULT_SEG_ROOT}; with --kind both, the '
        'parent of synthetic_coco/ and synthetic_seg/)')
    _add_size_args(parser)
    args = parser.parse_args(argv)
    overrides = _size_overrides(args)
    if args.kind == 'both':
        base = args.out or 'data'
        make_coco_instances(osp.join(base, 'synthetic_coco'), **overrides)
        make_seg_dataset(osp.join(base, 'synthetic_seg'), **overrides)
    elif args.kind == 'coco':
        make_coco_instances(args.out or DEFAULT_COCO_ROOT, **overrides)
    else:
        make_seg_dataset(args.out or DEFAULT_SEG_ROOT, **overrides)


if __name__ == '__main__':
    main()
