"""Stand-in data sets in the real on-disk layouts of the zoo configs.

:func:`make_standin_data` takes one leaf dataset config (as the dataset
class will be built, with its paths pointing into a stand-in root of the
caller's choice) and writes a few real, decodable samples exactly where that
dataset class reads them:

* mmdet ``CocoDataset``: a COCO 2017 instances json (the 80 COCO categories
  with their real, non-contiguous ids, or the config's own
  ``metainfo.classes`` with ids 1..K), polygon masks, and JPEG images;
* mmseg ``ADE20KDataset`` / ``BaseSegDataset``: JPEG images and PNG label
  maps side by side (ADE20K: values 0..150, 0 = "other");
* mmpose ``CocoDataset``: a COCO person-keypoints json (17 keypoints) and,
  with ``bbox_file``, the detected-person-box json of the test setting;
* mmaction ``VideoDataset``: a list file of ``path label`` lines and real
  videos in the published container (``.mp4``; ``.avi`` for UCF101 /
  HMDB51; VP8 ``.webm`` for Something-Something V2, see :func:`_video_ext`);
* mmaction ``RawframeDataset``: a list file of ``frame_dir total_frames
  label`` lines and folders of JPEG frames named by ``filename_tmpl``.

Images are 320x240, videos 128x96 with enough frames for every frame
sampler in the dataset's pipeline (40 to 128; a stand-in with more frames
also serves a config with a shorter sampler, so configs sharing a list do
not rewrite it). Video labels are spread over ``range(num_classes)``,
both ends included; box and pixel labels are drawn from it.

Safety: every sample file or folder written here is named ``standin_*``;
every annotation file gets a manifest (:class:`.generated.Manifest`)
``<ann_file>.standin.json`` (for a segmentation set read by scanning a
folder: ``<img_dir>.standin.json``) that records the generator, its
version, the arguments, the files written and the annotation file's
SHA-256. A call whose manifest is current returns
at once without writing. Nothing is written over a file without such a
manifest, nor into a folder holding files that are neither ``standin_*``
nor covered by a manifest (a real data set): that raises
:class:`FileExistsError` naming the path. Sample names carry the stem of
their annotation file, so splits (or layouts) that share one image or video
folder never collide (two annotation files of the same name sharing a
sample folder are refused). Files left by an interrupted run are replaced.

Content is deterministic in ``seed`` and the annotation file's name; the
pictures reuse the synthetic generators of :mod:`.synthetic`,
:mod:`.synthetic_pose` and :mod:`.synthetic_video` and are not meant to be
learnable.

CLI (the stand-ins of a config's train/val/test datasets, its ``data/``
paths moved under ``DIR``)::

    python -m uniformer_mm.datasets.standin CONFIG --data-root DIR
"""
import hashlib
import json
import os
import os.path as osp
import re
import shutil
import zlib
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .generated import Manifest, rng_stream
from .wrappers import leaf_datasets

GENERATOR = 'uniformer_mm.datasets.standin'
GENERATOR_VERSION = 1
MANIFEST_SUFFIX = '.standin.json'
PREFIX = 'standin_'

#: frame size (W, H) of stand-in images and videos
IMAGE_SIZE = (320, 240)
VIDEO_SIZE = (128, 96)
#: fewest frames a stand-in video or frame folder has
MIN_FRAMES = 40
#: the most frames: enough for every zoo sampler (32 x 4)
MAX_FRAMES = 128

#: COCO 2017 category ids: 1..90 without the ten ids COCO never used
COCO_CATEGORY_IDS: Tuple[int, ...] = tuple(
    i for i in range(1, 91)
    if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83))

SUPPORTED = ('mmdet CocoDataset', 'mmseg ADE20KDataset',
             'mmseg BaseSegDataset', 'mmpose CocoDataset',
             'mmaction VideoDataset', 'mmaction RawframeDataset')


# ------------------------------------------------------------- helpers
def _join(data_root: Optional[str], path: Optional[str]) -> Optional[str]:
    """Resolve ``path`` as mmengine's ``BaseDataset._join_prefix`` does."""
    if path is None:
        return None
    if data_root and not osp.isabs(path):
        path = osp.join(data_root, path)
    return path


def _prefix(cfg: dict, key: str, default: str = '') -> str:
    prefix = (cfg.get('data_prefix') or {}).get(key, default)
    return _join(cfg.get('data_root'), prefix or '') or '.'


def _draw(drawer: Callable, seed: int, tag: str, index: int, *args,
          **kwargs):
    """``drawer(seed, 'train', stream, *args, **kwargs)`` of a synthetic
    generator, with a stream index unique per (annotation file name,
    sample), so different files get different pictures while a file's
    pictures depend only on ``seed``."""
    stream = (zlib.crc32(tag.encode()) << 20) + index
    return drawer(seed, 'train', stream, *args, **kwargs)


def _tag(anchor: str) -> str:
    """The name the samples of a stand-in carry: its anchor's stem."""
    return osp.splitext(osp.basename(osp.normpath(anchor)))[0]


def _spread(index: int, num: int, num_classes: int) -> int:
    """Label of sample ``index`` of ``num``: spread from 0 to C - 1."""
    if num <= 1:
        return 0
    return int(round(index * (num_classes - 1) / (num - 1)))


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def _write_jpeg(path: str, image: np.ndarray) -> None:
    ok, buf = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:  # pragma: no cover - cv2 always encodes uint8 BGR
        raise RuntimeError(f'could not encode {path}')
    with open(path, 'wb') as f:
        f.write(buf.tobytes())


def _write_png(path: str, label: np.ndarray) -> None:
    ok, buf = cv2.imencode('.png', label)
    if not ok:  # pragma: no cover
        raise RuntimeError(f'could not encode {path}')
    with open(path, 'wb') as f:
        f.write(buf.tobytes())


def _dump_json(path: str, obj) -> None:
    tmp = f'{path}.partial-{os.getpid()}'
    with open(tmp, 'w') as f:
        json.dump(obj, f, separators=(',', ':'))
    os.replace(tmp, path)


def _dump_lines(path: str, lines: Sequence[str]) -> None:
    tmp = f'{path}.partial-{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(''.join(line + '\n' for line in lines))
    os.replace(tmp, path)


def _pad_width(image: np.ndarray, width: int) -> Tuple[np.ndarray, int]:
    """Centre a square picture in a wider frame, edge-replicated; returns
    the frame and the x offset of the picture."""
    left = (width - image.shape[1]) // 2
    right = width - image.shape[1] - left
    pad = [(0, 0), (left, right)] + [(0, 0)] * (image.ndim - 2)
    return np.pad(image, pad, mode='edge'), left


# ------------------------------------------------------------ manifests
class _Job:
    """One stand-in: its anchor (the annotation file, or the image folder of
    a folder-scanned set), its parameters, and the files it owns.

    Args:
        anchor (str): The path whose manifest is ``anchor + .standin.json``.
        params (dict): Everything the content depends on.
        folders (list[str]): The folders samples are written into.
        at_least (tuple[str]): Parameters that a stand-in with a larger
            value also satisfies (frames per video: configs with shorter
            samplers share the longer videos instead of rewriting them).
    """

    def __init__(self,
                 anchor: str,
                 params: dict,
                 folders: Sequence[str],
                 at_least: Sequence[str] = ()):
        self.anchor = anchor
        self.record = Manifest(
            anchor + MANIFEST_SUFFIX, GENERATOR,
            dict(generator=GENERATOR, version=GENERATOR_VERSION, **params))
        self.manifest = self.record.path
        self.folders = list(dict.fromkeys(folders))
        self.at_least = tuple(at_least)
        self.files: List[str] = []  # relative to the manifest's folder

    def _anchor_changed(self, old: dict) -> bool:
        return (osp.isfile(self.anchor)
                and old.get('anchor_sha256') != _sha256(self.anchor))

    def current(self) -> Optional[List[str]]:
        """The files of a current stand-in, or None."""
        files = self.record.current(self.at_least)
        if files is None or self._anchor_changed(self.record.read()):
            return None
        return files

    def begin(self) -> None:
        """Check that everything to be written is ours, remove the previous
        stand-in of this anchor, and mark the anchor as being written."""
        old = self.record.read()
        foreign = osp.isfile(self.anchor) or (osp.isdir(self.anchor)
                                              and os.listdir(self.anchor))
        if foreign and old is None:
            raise FileExistsError(
                f'{self.anchor} exists and was not written by {GENERATOR} '
                f'(no {osp.basename(self.manifest)} beside it): it looks '
                'like a real data set; point the config at another data '
                'root for the stand-in, or remove it yourself')
        if (old is not None and old.get('state') == 'done'
                and self._anchor_changed(old)):
            raise FileExistsError(
                f'{self.anchor} was changed after {GENERATOR} wrote it; '
                'not overwriting it (remove it and '
                f'{osp.basename(self.manifest)} to regenerate)')
        for folder in self.folders + [osp.dirname(self.anchor) or '.']:
            _check_folder(folder)
        # samples are named after the anchor: ones it does not list belong
        # to an interrupted run of it, or to another anchor of the same name
        # sharing the folder
        listed = {self.record.abspath(p) for p in (old or {}).get('files', [])}
        mine = re.compile(
            re.escape(f'{PREFIX}{_tag(self.anchor)}_') + r'\d{6}(\..*)?')
        stale = [
            osp.normpath(osp.join(folder, name)) for folder in self.folders
            if osp.isdir(folder) for name in sorted(os.listdir(folder))
            if mine.fullmatch(name)
        ]
        clash = [p for p in stale if p not in listed]
        if clash and (old or {}).get('state') != 'writing':
            raise FileExistsError(
                f'{clash[0]} belongs to another stand-in whose annotation '
                f'file is also named {osp.basename(self.anchor)!r} and '
                'shares this folder; give the two annotation files '
                'different names')
        for path in sorted(listed | set(stale)):
            if osp.basename(path).startswith(PREFIX) and osp.isdir(path):
                shutil.rmtree(path)
            elif osp.isfile(path) and path != osp.normpath(self.anchor):
                os.remove(path)
        os.makedirs(osp.dirname(self.manifest) or '.', exist_ok=True)
        for folder in self.folders:
            os.makedirs(folder, exist_ok=True)
        # written first: an interrupted run leaves files this module may
        # replace next time, never files that look foreign to it
        self.record.write(
            state='writing', files=[self.record.relpath(self.anchor)])

    def add(self, path: str) -> str:
        self.files.append(self.record.relpath(path))
        return path

    def finish(self) -> List[str]:
        sha = _sha256(self.anchor) if osp.isfile(self.anchor) else None
        self.record.write(state='done', anchor_sha256=sha, files=self.files)
        return [self.record.abspath(p) for p in self.files] + [self.manifest]


def _check_folder(folder: str) -> None:
    """Refuse a folder holding files that no stand-in wrote."""
    if not osp.isdir(folder):
        return
    names = set(os.listdir(folder))
    for name in sorted(names):
        if (name.startswith(PREFIX) or name.endswith(MANIFEST_SUFFIX)
                or '.partial-' in name or name + MANIFEST_SUFFIX in names):
            continue
        path = osp.join(folder, name)
        if osp.isdir(path) and not name.startswith(PREFIX):
            # sub-folders (other splits, the image folders of a data root)
            # are checked when something is written into them
            continue
        raise FileExistsError(
            f'{folder} holds {name}, which was not written by {GENERATOR}: '
            'it looks like a real data set; point the config at another '
            'data root for the stand-in (nothing was written)')


def _run(job: _Job, writer: Callable[[_Job], None]) -> List[str]:
    files = job.current()
    if files is not None:
        return files + [job.manifest]
    job.begin()
    writer(job)
    return job.finish()


# ----------------------------------------------------------- pictures
def _scene(seed: int, tag: str, index: int):
    """A picture of IMAGE_SIZE with a few shapes: (BGR image, shapes with
    ``polygon``, ``bbox``, ``mask``, ``area`` in frame coordinates)."""
    from .synthetic import draw_scene
    width, height = IMAGE_SIZE
    image, shapes = _draw(
        draw_scene,
        seed,
        tag,
        index,
        height,
        min_shapes=1,
        max_shapes=4,
        min_size=0.25,
        max_size=0.45)
    image, dx = _pad_width(image, width)
    for s in shapes:
        poly = np.asarray(s['polygon']).reshape(-1, 2) + (dx, 0)
        s['polygon'] = [round(float(v), 2) for v in poly.reshape(-1)]
        s['bbox'] = [round(s['bbox'][0] + dx, 2)] + s['bbox'][1:]
        s['mask'] = np.pad(s['mask'], [(0, 0), (dx, width - height - dx)])
    return image, shapes


def _image_entry(job: _Job, folder: str, tag: str, index: int,
                 image: np.ndarray) -> dict:
    name = f'{PREFIX}{tag}_{index:06d}.jpg'
    _write_jpeg(job.add(osp.join(folder, name)), image)
    return dict(
        id=index + 1,
        file_name=name,
        width=image.shape[1],
        height=image.shape[0])


def _coco_json(images: list, annotations: list, categories: list) -> dict:
    return dict(
        info=dict(
            description=f'{GENERATOR} stand-in (not real data)',
            version=str(GENERATOR_VERSION)),
        licenses=[],
        images=images,
        annotations=annotations,
        categories=categories)


# --------------------------------------------------------------- mmdet
def _coco_categories(cfg: dict) -> List[dict]:
    classes = (cfg.get('metainfo') or {}).get('classes')
    if classes:
        if isinstance(classes, str):
            classes = (classes, )
        return [dict(id=i + 1, name=str(c)) for i, c in enumerate(classes)]
    from mmdet.datasets import CocoDataset
    names = CocoDataset.METAINFO['classes']
    return [dict(id=i, name=n) for i, n in zip(COCO_CATEGORY_IDS, names)]


def _det_coco(cfg: dict, num_samples: int, num_classes: Optional[int],
              seed: int) -> List[str]:
    ann_file = _join(cfg.get('data_root'), cfg.get('ann_file'))
    if not ann_file:
        raise ValueError('mmdet CocoDataset needs ann_file')
    img_dir = _prefix(cfg, 'img')
    cats = _coco_categories(cfg)
    num_classes = _check_classes(num_classes, len(cats), 'mmdet CocoDataset')
    tag = _tag(ann_file)
    job = _Job(
        ann_file,
        dict(
            kind='coco_instances',
            img_dir=img_dir,
            categories=cats,
            num_samples=num_samples,
            num_classes=num_classes,
            seed=seed), [img_dir])

    def writer(job):
        images, annotations = [], []
        for i in range(num_samples):
            image, shapes = _scene(seed, tag, i)
            images.append(_image_entry(job, img_dir, tag, i, image))
            rng = rng_stream(seed, tag + '/labels', i)
            for s in shapes:
                label = int(rng.integers(num_classes))
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=i + 1,
                        category_id=cats[label]['id'],
                        bbox=s['bbox'],
                        area=float(s['area']),
                        iscrowd=0,
                        segmentation=[s['polygon']]))
        _dump_json(job.add(ann_file), _coco_json(images, annotations, cats))

    return _run(job, writer)


def _check_classes(num_classes: Optional[int], own: int, what: str) -> int:
    if num_classes is None:
        return own
    if not 1 <= int(num_classes) <= own:
        raise ValueError(f'{what}: num_classes={num_classes} does not fit '
                         f'its {own} classes; pass 1..{own} (the model '
                         "head's class count) or None")
    return int(num_classes)


# --------------------------------------------------------------- mmseg
def _seg(cfg: dict, num_samples: int, num_classes: Optional[int],
         seed: int) -> List[str]:
    typ = cfg['type']
    ade = typ == 'ADE20KDataset'
    classes = (cfg.get('metainfo') or {}).get('classes')
    if classes:
        own = len(classes)
    elif ade:
        from mmseg.datasets import ADE20KDataset
        own = len(ADE20KDataset.METAINFO['classes'])
    elif num_classes is not None:
        own = int(num_classes)
    else:
        raise ValueError(
            f'mmseg {typ} without metainfo.classes: pass num_classes (the '
            "decode head's class count)")
    num_classes = _check_classes(num_classes, own, f'mmseg {typ}')
    reduce_zero = bool(cfg.get('reduce_zero_label', ade))
    img_suffix = cfg.get('img_suffix', '.jpg')
    seg_suffix = cfg.get('seg_map_suffix', '.png')
    if img_suffix.lower() not in ('.jpg', '.jpeg', '.png'):
        raise ValueError(f'img_suffix {img_suffix!r}: the stand-in writes '
                         'JPEG (.jpg) or PNG (.png) images')
    if not seg_suffix.lower().endswith('.png'):
        raise ValueError(f'seg_map_suffix {seg_suffix!r}: the stand-in '
                         'writes PNG label maps (a suffix ending in .png)')
    img_dir = _prefix(cfg, 'img_path')
    seg_dir = _prefix(cfg, 'seg_map_path')
    ann_file = (
        _join(cfg.get('data_root'), cfg['ann_file'])
        if cfg.get('ann_file') else '')
    # as BaseSegDataset: a list of names, or (no file) a folder scan
    listed = bool(ann_file) and not osp.isdir(ann_file)
    anchor = ann_file if listed else osp.normpath(img_dir)
    tag = _tag(anchor)
    job = _Job(
        anchor,
        dict(
            kind='seg',
            img_dir=img_dir,
            seg_dir=seg_dir,
            listed=listed,
            img_suffix=img_suffix,
            seg_suffix=seg_suffix,
            reduce_zero=reduce_zero,
            num_samples=num_samples,
            num_classes=num_classes,
            seed=seed), [img_dir, seg_dir])
    # values: with reduce_zero_label, 0 is "other" and 1..C the classes;
    # without it, 0..C-1 are the classes
    low, high = (1, num_classes + 1) if reduce_zero else (0, num_classes)

    def writer(job):
        names = []
        for i in range(num_samples):
            image, shapes = _scene(seed, tag, i)
            rng = rng_stream(seed, tag + '/labels', i)
            height, width = image.shape[:2]
            label = np.zeros((height, width), np.uint8)
            # 0 ("other" with reduce_zero_label) at the top, a region of one
            # class below, the shapes' classes on them: several values in
            # every map
            y0 = int(rng.integers(height // 4, height // 2))
            label[y0:] = int(rng.integers(low, high))
            for s in shapes:
                label[s['mask']] = int(rng.integers(low, high))
            name = f'{PREFIX}{tag}_{i:06d}'
            names.append(name)
            img_path = job.add(osp.join(img_dir, name + img_suffix))
            if img_suffix.lower() == '.png':
                _write_png(img_path, image)
            else:
                _write_jpeg(img_path, image)
            _write_png(job.add(osp.join(seg_dir, name + seg_suffix)), label)
        if listed:
            _dump_lines(job.add(ann_file), names)

    return _run(job, writer)


# -------------------------------------------------------------- mmpose
def _pose_coco(cfg: dict, num_samples: int, num_classes: Optional[int],
               seed: int) -> List[str]:
    from .synthetic_pose import (KEYPOINT_NAMES, draw_pose_scene,
                                 person_category)

    # no class labels here: accept the category count or the keypoint count
    # (a heatmap head's out_channels)
    if num_classes not in (None, 1, len(KEYPOINT_NAMES)):
        raise ValueError(
            'mmpose CocoDataset has one category (person) and '
            f'{len(KEYPOINT_NAMES)} keypoints; got num_classes={num_classes}'
            ' (pass None)')
    ann_file = _join(cfg.get('data_root'), cfg.get('ann_file'))
    if not ann_file:
        raise ValueError('mmpose CocoDataset needs ann_file')
    img_dir = _prefix(cfg, 'img')
    tag = _tag(ann_file)
    job = _Job(
        ann_file,
        dict(
            kind='coco_keypoints',
            img_dir=img_dir,
            num_samples=num_samples,
            seed=seed), [img_dir])
    width, height = IMAGE_SIZE

    def writer(job):
        images, annotations = [], []
        for i in range(num_samples):
            persons = []
            # a redraw until a scene has a person with labelled keypoints
            # (mmpose's top-down loader drops the others)
            for attempt in range(20):
                image, persons = _draw(
                    draw_pose_scene,
                    seed,
                    tag,
                    i + (attempt << 16),
                    height,
                    max_people=2,
                    min_height=0.6,
                    max_height=0.9,
                    occlude_prob=0.25,
                    out_of_frame_prob=0.0)
                if any(p['num_keypoints'] > 0 for p in persons):
                    break
            image, dx = _pad_width(image, width)
            images.append(_image_entry(job, img_dir, tag, i, image))
            for p in persons:
                kps = np.asarray(p['keypoints'], np.float64).copy()
                kps[kps[:, 2] > 0, 0] += dx
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=i + 1,
                        category_id=1,
                        bbox=[p['bbox'][0] + dx] + list(p['bbox'][1:]),
                        area=float(p['area']),
                        iscrowd=0,
                        num_keypoints=int(p['num_keypoints']),
                        keypoints=[
                            int(v) if j % 3 == 2 else round(float(v), 2)
                            for j, v in enumerate(kps.reshape(-1))
                        ]))
        _dump_json(
            job.add(ann_file),
            _coco_json(images, annotations, [person_category()]))

    files = _run(job, writer)
    bbox_file = cfg.get('bbox_file')  # mmpose does not join data_root
    if bbox_file:
        files += _pose_bbox_file(bbox_file, ann_file, seed)
    return files


def _pose_bbox_file(bbox_file: str, ann_file: str, seed: int) -> List[str]:
    """Detected-person boxes: each ground-truth person box, jittered, with a
    detector-like score, plus one low-score false positive per image."""
    ann_sha = _sha256(ann_file)
    job = _Job(bbox_file,
               dict(kind='person_detections', ann_sha256=ann_sha, seed=seed),
               [])

    def writer(job):
        with open(ann_file) as f:
            coco = json.load(f)
        rng = rng_stream(seed, osp.basename(bbox_file), 0)
        dets = []
        for ann in coco['annotations']:
            x, y, w, h = ann['bbox']
            jitter = rng.normal(0, 0.03, 4) * [w, h, w, h]
            dets.append(
                dict(
                    image_id=ann['image_id'],
                    category_id=1,
                    bbox=[
                        round(float(v), 2)
                        for v in (x + jitter[0], y + jitter[1],
                                  max(w + jitter[2], 2.0),
                                  max(h + jitter[3], 2.0))
                    ],
                    score=round(float(rng.uniform(0.8, 1.0)), 4)))
        for img in coco['images']:
            w, h = img['width'], img['height']
            dets.append(
                dict(
                    image_id=img['id'],
                    category_id=1,
                    bbox=[
                        round(float(v),
                              2) for v in (rng.uniform(0, w / 2),
                                           rng.uniform(0, h / 2), w / 4, h / 3)
                    ],
                    score=round(float(rng.uniform(0.05, 0.3)), 4)))
        _dump_json(job.add(bbox_file), dets)

    return _run(job, writer)


# ------------------------------------------------------------ mmaction
def _frames_needed(cfg: dict) -> int:
    """Enough frames for every frame sampler of the dataset's pipeline."""
    need = MIN_FRAMES
    for t in cfg.get('pipeline') or []:
        if not isinstance(t, dict):
            continue
        if t.get('type') in ('SampleFrames', 'SlowFastSampleFrames'):
            need = max(
                need,
                int(t.get('clip_len', 1)) * int(t.get('frame_interval', 1)))
        elif t.get('type') in ('UniformSample', 'UniformSampleFrames'):
            need = max(need, int(t.get('clip_len', 1)))
    return min(need, MAX_FRAMES)


# encoders of PyAV's FFmpeg per container (MPEG-4 part 2 elsewhere)
_VIDEO_CODECS = {'.webm': 'libvpx'}


def _video_ext(ann_file: str) -> str:
    """The container of the published videos the list names, where the
    configs' decoder (PyAV) can read it.

    UCF101 and HMDB51 are published as ``.avi``, Something-Something V2 as
    ``.webm`` (VP8/VP9 in Matroska, which records no frame count: the zoo's
    SSv2 configs read it with ``CheckedPyAVInit``, which counts the frames;
    MMAction2's ``PyAVInit`` reads 0 frames and its samplers fail).
    """
    name = osp.basename(ann_file).lower()
    if 'ucf101' in name or 'hmdb51' in name:
        return '.avi'
    if 'sthv2' in name:
        return '.webm'
    return '.mp4'


def _clip(seed: int, tag: str, index: int, label: int,
          num_frames: int) -> np.ndarray:
    """RGB frames T x H x W x 3 of VIDEO_SIZE."""
    from .synthetic_video import VIDEO_CLASSES, draw_clip
    width, height = VIDEO_SIZE
    frames, _ = _draw(
        draw_clip,
        seed,
        tag,
        index,
        num_frames,
        width,
        label=label % len(VIDEO_CLASSES))
    top = (width - height) // 2
    return np.ascontiguousarray(frames[:, top:top + height])


def _action_classes(cfg: dict, num_classes: Optional[int]) -> int:
    if num_classes is not None:
        return int(num_classes)
    if cfg.get('num_classes'):
        return int(cfg['num_classes'])
    name = osp.basename(str(cfg.get('ann_file', ''))).lower()
    for key, n in (('kinetics400', 400), ('kinetics600', 600),
                   ('kinetics700', 700), ('sthv1', 174), ('sthv2', 174),
                   ('ucf101', 101), ('hmdb51', 51)):
        if key in name:
            return n
    raise ValueError(
        f'mmaction {cfg["type"]}: cannot tell the class count from '
        f'{name!r}; pass num_classes (the head\'s class count)')


def _action_ann_file(cfg: dict) -> str:
    ann_file = _join(cfg.get('data_root'), cfg.get('ann_file'))
    if not ann_file:
        raise ValueError(f'mmaction {cfg["type"]} needs ann_file')
    return ann_file


def _action_job(cfg: dict, ann_file: str, folder: str, num_samples: int,
                num_classes: Optional[int], seed: int, layout: dict,
                extra: dict) -> Tuple[_Job, str, int, int]:
    """The job of an action-recognition stand-in: ``num_samples`` clips
    under ``folder``, listed in ``ann_file``.

    Args:
        layout (dict): The manifest's parameters before the shared ones
            (``frames``, ``num_samples``, ``num_classes``).
        extra (dict): Those after them (before ``seed``).

    Returns:
        tuple: The job, the samples' name tag, the frames per clip and the
        class count.
    """
    num_classes = _action_classes(cfg, num_classes)
    frames = _frames_needed(cfg)
    # the manifest's key order is kept: its bytes are part of the output
    params = dict(
        layout,
        frames=frames,
        num_samples=num_samples,
        num_classes=num_classes,
        **extra,
        seed=seed)
    job = _Job(ann_file, params, [folder], at_least=('frames', ))
    return job, _tag(ann_file), frames, num_classes


def _video(cfg: dict, num_samples: int, num_classes: Optional[int],
           seed: int) -> List[str]:
    from .synthetic_video import write_video
    ann_file = _action_ann_file(cfg)
    if cfg.get('multi_class'):
        raise ValueError('multi_class VideoDataset stand-ins are not '
                         'supported')
    video_dir = _prefix(cfg, 'video')
    ext = _video_ext(ann_file)
    delimiter = cfg.get('delimiter', ' ')
    job, tag, frames, num_classes = _action_job(
        cfg, ann_file, video_dir, num_samples, num_classes, seed,
        dict(kind='videos', video_dir=video_dir, ext=ext),
        dict(delimiter=delimiter))

    def writer(job):
        lines = []
        for i in range(num_samples):
            label = _spread(i, num_samples, num_classes)
            name = f'{PREFIX}{tag}_{i:06d}{ext}'
            write_video(
                job.add(osp.join(video_dir, name)),
                _clip(seed, tag, i, label, frames),
                codec=_VIDEO_CODECS.get(ext, 'mpeg4'))
            lines.append(f'{name}{delimiter}{label}')
        _dump_lines(job.add(ann_file), lines)

    return _run(job, writer)


def _rawframes(cfg: dict, num_samples: int, num_classes: Optional[int],
               seed: int) -> List[str]:
    ann_file = _action_ann_file(cfg)
    if cfg.get('multi_class') or cfg.get('modality', 'RGB') != 'RGB':
        raise ValueError('RawframeDataset stand-ins are single-label RGB')
    frame_root = _prefix(cfg, 'img')
    tmpl = cfg.get('filename_tmpl', 'img_{:05}.jpg')
    start = int(cfg.get('start_index', 1))
    with_offset = bool(cfg.get('with_offset', False))
    job, tag, frames, num_classes = _action_job(
        cfg, ann_file, frame_root, num_samples, num_classes, seed,
        dict(
            kind='rawframes',
            frame_root=frame_root,
            tmpl=tmpl,
            start_index=start,
            with_offset=with_offset), {})

    def writer(job):
        lines = []
        for i in range(num_samples):
            label = _spread(i, num_samples, num_classes)
            name = f'{PREFIX}{tag}_{i:06d}'
            folder = job.add(osp.join(frame_root, name))
            os.makedirs(folder, exist_ok=True)  # may be left half-written
            clip = _clip(seed, tag, i, label, frames)
            for t, frame in enumerate(clip):
                _write_jpeg(
                    osp.join(folder, tmpl.format(start + t)),
                    cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            total = f'0 {frames}' if with_offset else f'{frames}'
            lines.append(f'{name} {total} {label}')
        _dump_lines(job.add(ann_file), lines)

    return _run(job, writer)


_WRITERS: Dict[Tuple[str, str], Callable] = {
    ('mmdet', 'CocoDataset'): _det_coco,
    ('mmseg', 'ADE20KDataset'): _seg,
    ('mmseg', 'BaseSegDataset'): _seg,
    ('mmpose', 'CocoDataset'): _pose_coco,
    ('mmaction', 'VideoDataset'): _video,
    ('mmaction', 'RawframeDataset'): _rawframes,
}


def make_standin_data(dataset_cfg: dict,
                      *,
                      scope: str,
                      num_samples: int = 2,
                      num_classes: Optional[int] = None,
                      seed: int = 0) -> List[str]:
    """Write a stand-in for the dataset described by ``dataset_cfg`` exactly
    where it reads its files; return the paths written (or found current).

    Args:
        dataset_cfg (dict): One leaf dataset config as it will be built
            (``type``, ``data_root``, ``ann_file``, ``data_prefix``, ...),
            its paths already pointing into the stand-in root.
        scope (str): ``'mmdet'``, ``'mmseg'``, ``'mmpose'`` or
            ``'mmaction'``: whose dataset class ``type`` names.
        num_samples (int): Images / videos to write. Defaults to 2.
        num_classes (int, optional): Labels are drawn from
            ``range(num_classes)`` (the model head's class count). Defaults
            to None: the dataset's own class count.
        seed (int): Base seed (>= 0). Defaults to 0.

    Returns:
        list[str]: The annotation file(s), sample files or frame folders,
        and manifests of this stand-in.

    Raises:
        ValueError: An unsupported type or bad argument.
        FileExistsError: The paths hold files this module did not write.
    """
    cfg = dict(dataset_cfg)
    typ = cfg.get('type')
    if isinstance(typ, str) and '.' in typ:  # 'mmdet.CocoDataset'
        scope, typ = typ.split('.', 1)
    writer = _WRITERS.get((scope, typ))
    if writer is None:
        raise ValueError(
            f'no stand-in for {scope} dataset type {typ!r}; supported: '
            f'{", ".join(SUPPORTED)}')
    if int(num_samples) < 1:
        raise ValueError(f'num_samples must be >= 1, got {num_samples}')
    if int(seed) < 0:
        raise ValueError(f'seed must be >= 0, got {seed}')
    cfg['type'] = typ
    return writer(cfg, int(num_samples), num_classes, int(seed))


# ------------------------------------------------------------------ CLI
def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    """``python -m uniformer_mm.datasets.standin CONFIG --data-root DIR``:
    write the stand-ins of a config's train/val/test datasets."""
    import argparse

    from mmengine.config import Config
    from mmengine.logging import print_log

    from .paths import rebase_paths
    parser = argparse.ArgumentParser(
        description='Write stand-in data in the layout of a config\'s '
        'datasets (a few small, real files; never over a real data set).')
    parser.add_argument('config')
    parser.add_argument(
        '--data-root',
        help='where the config\'s data folder (the prefix '
        '--prefix of its dataset paths) is taken to be; default: the '
        'config\'s own paths')
    parser.add_argument(
        '--prefix',
        default='data/',
        help='the path prefix --data-root replaces '
        '(default: data/)')
    parser.add_argument('--num-samples', type=int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    scope = cfg.get('default_scope')
    written: List[str] = []
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        dataset = loader['dataset']
        dataset = dataset.to_dict() if hasattr(dataset,
                                               'to_dict') else dict(dataset)
        if args.data_root:
            rebase_paths(dataset, args.prefix, args.data_root)
        for leaf in leaf_datasets(dataset):
            files = make_standin_data(
                leaf,
                scope=scope,
                num_samples=args.num_samples,
                seed=args.seed)
            print_log(
                f'[standin] {split}: {leaf.get("type")}, '
                f'{len(files) - 1} files, manifest {files[-1]}',
                logger='current')
            written += [f for f in files if f not in written]
    return written


if __name__ == '__main__':
    main()
