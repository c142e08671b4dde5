"""Deterministic synthetic COCO-keypoints data for the pose demo: articulated
figures with the 17 COCO keypoints on textured backgrounds.

:func:`make_coco_keypoints` writes, on first use (nothing is downloaded,
nothing is committed)::

    ROOT/images/train/000000.jpg ...   ROOT/images/val/...
    ROOT/annotations/person_keypoints_train.json
    ROOT/annotations/person_keypoints_val.json
    ROOT/manifest.json

The annotations are COCO person keypoints: one ``person`` category (id 1)
with the COCO keypoint names and skeleton, so MMPose's ``CocoDataset``
reads them with its default COCO metainfo and ``CocoMetric`` evaluates them
with the COCO sigmas (OKS).

Each figure faces the viewer, so its *left* joints are on the image's
right, as for a person facing the camera; a horizontal flip with the COCO
left/right swap therefore gives a valid figure again (flip augmentation and
flip test stay meaningful). Limb and joint colours depend on the limb /
joint type, never on the side. A figure has a filled torso, a round head
with the five face points, thick limbs and a dot at every joint; its size,
proportions, joint angles, tilt and colours are random.

Keypoint visibility follows COCO: ``v=2`` labelled and visible, ``v=1``
labelled but hidden (under another figure or under a random occluding
patch), ``v=0`` not labelled (outside the image; stored as ``0, 0, 0``).
``bbox`` and ``area`` are the extent and pixel count of the figure's
visible silhouette, as COCO's are of the visible segmentation.
Every ``unlabeled_every``-th image (from image 1 on) also has one person
whose keypoints are all unlabelled (``num_keypoints == 0``, like COCO's
small or crowded persons): a box without keypoints, which MMPose's
top-down ``CocoDataset`` drops when loading and COCO evaluation ignores.

Generation shares the manifest, idempotence and atomic publishing of
:mod:`.synthetic`: each image has its own RNG stream
``(seed, 'coco_keypoints', split, index)``; a call with the same
parameters returns at once.

CLI::

    python -m uniformer_mm.datasets.synthetic_pose --out data/synthetic_pose
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .generated import generator_params, rng_stream
from .synthetic import (_SPLIT_CODE, _add_size_args, _background, _check_sizes,
                        _generate, _size_overrides, _splits,
                        _write_coco_splits)

#: the COCO keypoints, in COCO order (MMPose's coco.py metainfo)
KEYPOINT_NAMES: Tuple[str, ...] = ('nose', 'left_eye', 'right_eye', 'left_ear',
                                   'right_ear', 'left_shoulder',
                                   'right_shoulder', 'left_elbow',
                                   'right_elbow', 'left_wrist', 'right_wrist',
                                   'left_hip', 'right_hip', 'left_knee',
                                   'right_knee', 'left_ankle', 'right_ankle')
#: the COCO skeleton, 1-based keypoint ids as in person_keypoints_*.json
SKELETON: Tuple[Tuple[int, int],
                ...] = ((16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6,
                                                                           12),
                        (7, 13), (6, 7), (6, 8), (7, 9), (8, 10), (9, 11),
                        (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7))
NUM_KEYPOINTS = len(KEYPOINT_NAMES)

DEFAULT_POSE_ROOT = osp.join('data', 'synthetic_pose')
POSE_DEFAULTS = dict(
    num_train=1000,
    num_val=100,
    image_size=128,
    max_people=2,
    min_height=0.45,
    max_height=0.9,
    occlude_prob=0.25,
    out_of_frame_prob=0.15,
    unlabeled_every=20,
    seed=0)

_KIND_CODE = 3  # separates these streams from the shape data sets'
# figure height in torso lengths (head top to feet, upright)
_HEIGHT_IN_TORSOS = 3.55
# colours (BGR) per limb type and per joint type; left == right
_LIMB_COLOURS = dict(
    upper_arm=(40, 170, 240),
    forearm=(30, 90, 230),
    thigh=(200, 120, 40),
    shin=(150, 60, 20))
_JOINT_COLOURS = dict(
    shoulder=(255, 255, 255),
    elbow=(0, 255, 255),
    wrist=(255, 0, 255),
    hip=(255, 255, 0),
    knee=(0, 255, 0),
    ankle=(0, 0, 255),
    eye=(255, 255, 255),
    nose=(0, 0, 0),
    ear=(30, 30, 160))


def _rot(deg: float) -> np.ndarray:
    t = np.deg2rad(deg)
    return np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def _limb(rng: np.random.Generator, root: np.ndarray, sgn: float,
          angle: Tuple[float, float], bend: Tuple[float,
                                                  float], upper: Tuple[float,
                                                                       float],
          lower: Tuple[float, float]) -> Tuple[np.ndarray, np.ndarray]:
    """The middle and end joints of a two-segment limb from ``root``.

    Angles in degrees from straight down, positive = away from the body on
    the side ``sgn``; ``bend`` is the lower segment's angle relative to the
    upper one; ``upper`` / ``lower`` the segment lengths. Each is drawn
    uniformly from its range, in this order (the stream of the figures).
    """
    a1 = np.deg2rad(rng.uniform(*angle))
    a2 = a1 + np.deg2rad(rng.uniform(*bend))
    middle = root + rng.uniform(*upper) * np.array(
        [sgn * np.sin(a1), np.cos(a1)])
    end = middle + rng.uniform(*lower) * np.array(
        [sgn * np.sin(a2), np.cos(a2)])
    return middle, end


def person_category() -> dict:
    """The COCO ``person`` category with its keypoints and skeleton."""
    return dict(
        id=1,
        name='person',
        supercategory='person',
        keypoints=list(KEYPOINT_NAMES),
        skeleton=[list(s) for s in SKELETON])


def figure_keypoints(rng: np.random.Generator) -> Tuple[np.ndarray, dict]:
    """A random pose in figure units (torso length 1, pelvis at the origin,
    y down, the figure facing the viewer: its left at +x).

    Returns:
        keypoints (np.ndarray): (17, 2) in COCO order.
        shape (dict): ``head`` (centre, radius), ``hip_w`` and ``limb_w``
        (half widths) for drawing.
    """
    kpt = np.zeros((NUM_KEYPOINTS, 2))
    hip_w = rng.uniform(0.22, 0.32)
    sh_w = rng.uniform(0.36, 0.5)
    idx = {n: i for i, n in enumerate(KEYPOINT_NAMES)}
    for side, sgn in (('left', 1.0), ('right', -1.0)):
        hip = np.array([sgn * hip_w, 0.0])
        shoulder = np.array([sgn * sh_w, -1.0])
        elbow, wrist = _limb(rng, shoulder, sgn, (-25, 165), (-140, 30),
                             (0.55, 0.68), (0.48, 0.6))
        knee, ankle = _limb(rng, hip, sgn, (-12, 40), (-35, 25), (0.75, 0.9),
                            (0.72, 0.86))
        for name, p in (('shoulder', shoulder), ('elbow', elbow), ('wrist',
                                                                   wrist),
                        ('hip', hip), ('knee', knee), ('ankle', ankle)):
            kpt[idx[f'{side}_{name}']] = p
    head_r = rng.uniform(0.24, 0.3)
    head = np.array([rng.uniform(-0.06, 0.06), -1.0 - 0.12 - head_r])
    yaw = rng.uniform(-0.25, 0.25)  # turns the face a little
    kpt[idx['nose']] = head + head_r * np.array([yaw, 0.2])
    for side, sgn in (('left', 1.0), ('right', -1.0)):
        kpt[idx[f'{side}_eye']] = head + head_r * np.array(
            [sgn * 0.42 + yaw, -0.22])
        kpt[idx[f'{side}_ear']] = head + head_r * np.array(
            [sgn * 0.9 + 0.3 * yaw, -0.05])
    return kpt, dict(
        head=(head, head_r), hip_w=hip_w, limb_w=rng.uniform(0.08, 0.11))


def _limb_segments():
    """(joint a, joint b, limb type) in drawing order: legs behind the
    torso, arms in front of it."""
    segs = []
    for side in ('left', 'right'):
        segs += [(f'{side}_hip', f'{side}_knee', 'thigh'),
                 (f'{side}_knee', f'{side}_ankle', 'shin')]
    arms = []
    for side in ('left', 'right'):
        arms += [(f'{side}_shoulder', f'{side}_elbow', 'upper_arm'),
                 (f'{side}_elbow', f'{side}_wrist', 'forearm')]
    return segs, arms


def _jitter(rng, colour, amount=25):
    return tuple(
        float(np.clip(c + rng.uniform(-amount, amount), 0, 255))
        for c in colour)


def _draw_figure(img: np.ndarray, owner: np.ndarray, pid: int, kpt: np.ndarray,
                 shape: dict, scale: float, rng: np.random.Generator) -> None:
    """Draw one figure (image coordinates in ``kpt``) into ``img`` (float
    BGR) and its silhouette as the value ``pid`` into ``owner`` (uint8)."""
    idx = {n: i for i, n in enumerate(KEYPOINT_NAMES)}
    sub = 4  # fixed-point bits for cv2's sub-pixel drawing
    fx = float(1 << sub)

    def pt(p):
        return (int(round(p[0] * fx)), int(round(p[1] * fx)))

    limb_w = max(2, int(round(2 * shape['limb_w'] * scale)))
    legs, arms = _limb_segments()
    torso_colour = _jitter(
        rng,
        (rng.uniform(60, 200), rng.uniform(60, 200), rng.uniform(60, 200)), 0)
    limb_colours = {k: _jitter(rng, v) for k, v in _LIMB_COLOURS.items()}

    def both(draw):
        draw(img, True)
        draw(owner, False)

    def line(a, b, colour):
        both(lambda canvas, aa: cv2.line(canvas, pt(kpt[idx[
            a]]), pt(kpt[idx[b]]), colour if aa else pid, limb_w, cv2.LINE_AA
                                         if aa else cv2.LINE_8, sub))

    for a, b, kind in legs:
        line(a, b, limb_colours[kind])
    torso = np.stack([
        kpt[idx['left_shoulder']], kpt[idx['right_shoulder']],
        kpt[idx['right_hip']], kpt[idx['left_hip']]
    ])
    torso_px = np.round(torso * fx).astype(np.int32)
    both(lambda canvas, aa: cv2.fillPoly(canvas, [torso_px], torso_colour
                                         if aa else pid, cv2.LINE_AA
                                         if aa else cv2.LINE_8, sub))
    head, head_r = shape['head']
    neck = (kpt[idx['left_shoulder']] + kpt[idx['right_shoulder']]) / 2
    both(lambda canvas, aa: cv2.line(canvas, pt(neck), pt(head), torso_colour
                                     if aa else pid, limb_w, cv2.LINE_AA
                                     if aa else cv2.LINE_8, sub))
    skin = _jitter(rng, (150, 190, 230), 35)
    both(lambda canvas, aa: cv2.circle(
        canvas, pt(head), int(round(head_r * scale * fx)), skin
        if aa else pid, -1, cv2.LINE_AA if aa else cv2.LINE_8, sub))
    for a, b, kind in arms:
        line(a, b, limb_colours[kind])
    # joint dots: colour by joint type (the same on both sides)
    dot = max(1.5, 0.07 * scale)
    face_dot = max(1.0, 0.045 * scale)
    for name, i in idx.items():
        kind = name.split('_')[-1]
        r = face_dot if kind in ('eye', 'nose', 'ear') else dot
        cv2.circle(img, pt(kpt[i]), int(round(r * fx)), _JOINT_COLOURS[kind],
                   -1, cv2.LINE_AA, sub)
        cv2.circle(owner, pt(kpt[i]), int(round(r * fx)), pid, -1, cv2.LINE_8,
                   sub)


def draw_pose_scene(seed: int,
                    split: str,
                    index: int,
                    image_size: int,
                    max_people: int,
                    min_height: float,
                    max_height: float,
                    occlude_prob: float,
                    out_of_frame_prob: float,
                    unlabeled: bool = False):
    """One image and its annotated persons.

    Returns:
        image (np.ndarray): HxWx3 uint8, BGR.
        persons (list[dict]): ``keypoints`` (17x3 float array: x, y, v with
        COCO's visibility flags; unlabelled points are 0, 0, 0),
        ``num_keypoints``, ``bbox`` (x, y, w, h of the visible silhouette),
        ``area`` (its pixel count).
    """
    rng = rng_stream(seed, _KIND_CODE, _SPLIT_CODE[split], index)
    size = image_size
    img = _background(rng, size)
    # who is seen at each pixel: 0 background, k + 1 figure k, 255 a patch
    owner = np.zeros((size, size), np.uint8)
    n = int(rng.integers(1, max_people + 1))
    placed: List[Tuple[np.ndarray, dict, float]] = []
    boxes: List[np.ndarray] = []
    for _ in range(n):
        for _attempt in range(20):
            kpt, shape = figure_keypoints(rng)
            height = rng.uniform(min_height, max_height) * size
            scale = height / _HEIGHT_IN_TORSOS
            tilt = rng.uniform(-25, 25)
            pts = kpt @ _rot(tilt).T * scale
            head, head_r = shape['head']
            head_px = _rot(tilt) @ head * scale
            ext = np.concatenate([
                pts,
                head_px[None] + head_r * scale * np.array([[-1, -1], [1, 1]])
            ])
            lo, hi = ext.min(0), ext.max(0)
            # where the figure's extent goes: inside the image, or partly
            # outside it
            slack = np.maximum(size - (hi - lo), 1.0)
            offset = rng.uniform(0, 1, 2) * slack - lo
            if rng.uniform() < out_of_frame_prob:
                side = int(rng.integers(4))
                axis, sgn = side // 2, (-1)**(side % 2)
                offset[axis] += sgn * rng.uniform(0.2, 0.4) * (hi - lo)[axis]
            box = np.concatenate([lo + offset, hi + offset])
            if any(_iou(box, b) > 0.25 for b in boxes):
                continue
            boxes.append(box)
            shape['head'] = (head_px + offset, head_r)
            placed.append((pts + offset, shape, scale))
            break
    for pid, (pts, shape, scale) in enumerate(placed):
        _draw_figure(img, owner, pid + 1, pts, shape, scale, rng)
    # occluding patches (drawn last: they hide whatever is under them)
    for pid, (pts, shape, scale) in enumerate(placed):
        if rng.uniform() >= occlude_prob:
            continue
        centre = pts[int(rng.integers(NUM_KEYPOINTS))]
        half = rng.uniform(0.2, 0.45, 2) * scale
        x0, y0 = np.floor(centre - half).astype(int)
        x1, y1 = np.ceil(centre + half).astype(int)
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, size), min(y1, size)
        if x1 <= x0 or y1 <= y0:
            continue
        patch = rng.uniform(40, 215, 3) + rng.normal(0, 10,
                                                     (y1 - y0, x1 - x0, 3))
        img[y0:y1, x0:x1] = patch
        owner[y0:y1, x0:x1] = 255
    image = np.clip(np.round(img), 0, 255).astype(np.uint8)

    persons = []
    for pid, (pts, _, _) in enumerate(placed):
        mask = owner == pid + 1
        area = int(mask.sum())
        if area < 40:  # hidden or out of frame: not annotated
            continue
        ys, xs = np.nonzero(mask)
        kps = np.zeros((NUM_KEYPOINTS, 3))
        for k, (x, y) in enumerate(pts):
            if 0 <= x < size and 0 <= y < size:
                vis = 2 if owner[int(y), int(x)] == pid + 1 else 1
                kps[k] = (round(float(x), 2), round(float(y), 2), vis)
        persons.append(
            dict(
                keypoints=kps,
                num_keypoints=int((kps[:, 2] > 0).sum()),
                bbox=[
                    float(xs.min()),
                    float(ys.min()),
                    float(xs.max() - xs.min() + 1),
                    float(ys.max() - ys.min() + 1)
                ],
                area=area))
    if unlabeled and persons:
        # the last person keeps its box but none of its keypoints
        persons[-1]['keypoints'] = np.zeros((NUM_KEYPOINTS, 3))
        persons[-1]['num_keypoints'] = 0
    return image, persons


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) -
             inter)
    return inter / max(union, 1e-6)


def make_coco_keypoints(root: str = DEFAULT_POSE_ROOT,
                        verbose: bool = True,
                        **params) -> str:
    """Generate (once) a COCO person-keypoints set of synthetic figures.

    Args:
        root: Output directory. Defaults to ``data/synthetic_pose``.
        verbose: Log what was done. Defaults to True.
        **params: Overrides of :data:`POSE_DEFAULTS`:
            ``num_train`` / ``num_val``: images per split (1000 / 100);
            ``image_size``: square image side in pixels (>= 64; 128);
            ``seed``: base seed, every image has its own stream (0);
            ``max_people``: figures per image are 1..max_people, fewer when
            they would overlap too much (2);
            ``min_height`` / ``max_height``: the smallest / largest upright
            figure height, as a fraction of the image side (0.45 / 0.9);
            ``occlude_prob``: chance that a figure gets an occluding patch
            over one of its joints (0.25);
            ``out_of_frame_prob``: chance that a figure is placed partly
            outside the image (0.15);
            ``unlabeled_every``: images ``k, 2k, ...`` carry one person
            without labelled keypoints (0 = none; 20).

    Returns:
        ``root``.
    """
    params = generator_params(POSE_DEFAULTS, params, 'make_coco_keypoints')
    _check_params(params)

    unlabeled_every = params['unlabeled_every']

    def draw(split, i):
        unlabeled = unlabeled_every > 0 and i > 0 and (i % unlabeled_every
                                                       == 0)
        image, persons = draw_pose_scene(
            params['seed'], split, i, params['image_size'],
            params['max_people'], params['min_height'], params['max_height'],
            params['occlude_prob'], params['out_of_frame_prob'], unlabeled)
        return image, [
            dict(
                category_id=1,
                bbox=p['bbox'],
                area=p['area'],
                iscrowd=0,
                num_keypoints=p['num_keypoints'],
                keypoints=[
                    int(v) if j % 3 == 2 else float(v)
                    for j, v in enumerate(p['keypoints'].reshape(-1))
                ]) for p in persons
        ]

    def split_stats(num, annotations):
        vis_count = np.bincount(
            np.array([v for a in annotations for v in a['keypoints'][2::3]],
                     np.int64),
            minlength=3)
        return dict(
            persons=len(annotations),
            unlabeled_persons=sum(a['num_keypoints'] == 0
                                  for a in annotations),
            keypoints_v0=int(vis_count[0]),
            keypoints_v1=int(vis_count[1]),
            keypoints_v2=int(vis_count[2]))

    def writer(tmp):
        return _write_coco_splits(tmp, _splits(params, 'train', 'val'),
                                  params['image_size'], 'person_keypoints',
                                  'uniformer_mm synthetic figures',
                                  [person_category()], draw, split_stats)

    return _generate(root, 'coco_keypoints', params, writer, verbose)


def _check_params(p: Dict) -> None:
    _check_sizes(p, 64)
    if p['max_people'] < 1:
        raise ValueError(f'max_people must be >= 1, got {p["max_people"]}')
    if p['max_people'] > 250:
        raise ValueError('max_people must be <= 250 (figure ids are uint8)')
    if not 0 < p['min_height'] <= p['max_height'] <= 1.5:
        raise ValueError('need 0 < min_height <= max_height <= 1.5 (figure '
                         'heights as fractions of the image side)')
    for key in ('occlude_prob', 'out_of_frame_prob'):
        if not 0 <= p[key] <= 1:
            raise ValueError(f'{key} must be in [0, 1], got {p[key]}')
    if p['unlabeled_every'] < 0:
        raise ValueError('unlabeled_every must be >= 0 (0 = none)')


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(
        description='Generate the synthetic COCO-keypoints data set of the '
        'pose demo (idempotent: nothing is done when OUT already holds the '
        'same data set).')
    parser.add_argument('--out', default=DEFAULT_POSE_ROOT)
    _add_size_args(parser)
    args = parser.parse_args(argv)
    make_coco_keypoints(args.out, **_size_overrides(args))


if __name__ == '__main__':
    main()
