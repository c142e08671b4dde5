"""Run a trained video recognition config on video files and draw the result.

    python tools/demo/video_demo.py VIDEO [VIDEO ...] CONFIG --weights CKPT \
        [--out-dir DIR] [--gt LIST] [--vis-scale 4] [--device cpu]

VIDEO may be a file or a directory of ``.mp4``/``.avi``/``.mkv``/``.webm``
files. Each video goes through MMAction2's ``inference_recognizer`` with the
config's ``test_pipeline`` (the PyAV decoder of the demo config). Output:

* ``DIR/vis/<stem>.mp4``: every frame of the video, upscaled, with the
  predicted class and score below it (and the ground truth with ``--gt``,
  green when the prediction is right, red when wrong), encoded with PyAV;
* ``DIR/vis/<stem>.jpg``: the same as a strip of frames, for a quick look;
* ``DIR/preds/<stem>.json``: label, class, score and all class scores.

MMAction2's own ``MMAction2Inferencer`` is not used: for video files it
replaces the config's decoder with Decord, which is not installed here (the
project decodes with PyAV), and its visualiser writes videos through
moviepy, also not installed. The drawing is done with OpenCV instead.

``CKPT`` is read weights-only (torch's default), like every checkpoint in
uniformer_mm; ``tools/demo/run_demo.py --task video`` writes
``model_weights.pth`` in that form, with the class names in its meta.
Without ``--weights`` the model keeps its random initialisation (a smoke
test). ``--gt`` takes an MMAction2 annotation list (``path label`` per line,
paths relative to the list's directory, as the synthetic set writes them).
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .inputs import (VIDEO_EXTS, demo_parser, list_inputs, output_dirs,
                     parse_demo_args, print_outputs, refuse_partial_checkpoint,
                     run_kwargs)

# BGR
_GREEN, _RED, _WHITE = (80, 200, 80), (60, 60, 230), (255, 255, 255)


def list_videos(inputs: Sequence[str]) -> List[str]:
    """Video files of ``inputs`` (files, or directories searched one level
    deep), in order."""
    return list_inputs(inputs, VIDEO_EXTS, 'video')


def read_annotation_list(path: str) -> Dict[str, int]:
    """An MMAction2 video list (``path label`` per line) as absolute path ->
    label; paths are taken relative to the list's directory."""
    base = osp.dirname(osp.abspath(path))
    labels = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) < 2:
                raise ValueError(f'{path}:{n}: expected "path label", got '
                                 f'{line.strip()!r}')
            labels[osp.normpath(osp.join(base, parts[0]))] = int(parts[1])
    return labels


def _classes(cfg, checkpoint_meta: Optional[dict]) -> Optional[Tuple]:
    """Class names: the checkpoint's dataset_meta, else the config's."""
    meta = (checkpoint_meta or {}).get('dataset_meta') or {}
    if meta.get('classes'):
        return tuple(meta['classes'])
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        loader = cfg.get(key) or {}
        classes = (loader.get('dataset', {}).get('metainfo')
                   or {}).get('classes')
        if classes:
            return tuple(classes)
    return cfg.get('classes')


def build_recognizer(config,
                     weights: Optional[str] = None,
                     device: str = 'cpu',
                     allow_partial_checkpoint: bool = False):
    """MMAction2's ``init_recognizer`` for ``config`` (a path or an mmengine
    ``Config``), loading ``weights`` weights-only; the class names go to
    ``model.dataset_meta``. Weights that do not fit the model in full are
    refused unless ``allow_partial_checkpoint``."""
    from mmengine.config import Config

    from uniformer_mm import register_all_modules
    from uniformer_mm.checkpoints import (install_weights_only_loader,
                                          load_checkpoint_file)
    register_all_modules()
    install_weights_only_loader()
    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    cfg = cfg.copy()
    if cfg.get('test_pipeline') is None:
        raise KeyError('the config has no top-level test_pipeline, which '
                       'inference_recognizer needs; add '
                       'test_pipeline = test_dataloader.dataset.pipeline')
    # the config's own imports (e.g. our checked PyAV transforms)
    if cfg.get('custom_imports'):
        from mmengine.utils import import_modules_from_strings
        import_modules_from_strings(**cfg.custom_imports)
    from mmaction.apis import init_recognizer

    # weights: MMEngine's loader, routed through torch.load(weights_only=
    # True) above
    model = init_recognizer(cfg, weights, device=device)
    refuse_partial_checkpoint(model, weights, allow_partial_checkpoint)
    meta = load_checkpoint_file(weights).get('meta') if weights else None
    model.dataset_meta = dict(classes=_classes(cfg, meta))
    return model


def _banner(width: int, lines: List[Tuple[str, tuple]]) -> np.ndarray:
    import cv2
    scale = max(width / 256, 0.4)
    height = int(22 * scale) * len(lines) + int(8 * scale)
    banner = np.zeros((height, width, 3), np.uint8)
    for i, (text, colour) in enumerate(lines):
        cv2.putText(banner, text, (int(6 * scale), int(22 * scale) * (i + 1)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.55 * scale, colour,
                    max(1, int(round(scale))), cv2.LINE_AA)
    return banner


def draw_video(frames: np.ndarray,
               text: List[Tuple[str, tuple]],
               vis_scale: int = 4) -> np.ndarray:
    """Upscale RGB frames (T x H x W x 3) and put ``text`` (lines of (str,
    BGR colour)) below each; returns T x H' x W' x 3 RGB, even sides."""
    import cv2
    out = []
    for frame in frames:
        big = cv2.resize(
            frame[..., ::-1],
            None,
            fx=vis_scale,
            fy=vis_scale,
            interpolation=cv2.INTER_NEAREST)
        t = _banner(big.shape[1], text)
        drawn = np.concatenate([big, t], 0)
        h, w = drawn.shape[:2]
        drawn = drawn[:h - h % 2, :w - w % 2]  # yuv420p needs even sides
        out.append(drawn[..., ::-1])
    return np.stack(out)


def _strip(frames: np.ndarray, max_frames: int = 8) -> np.ndarray:
    """Up to ``max_frames`` evenly spaced frames side by side (BGR)."""
    idx = np.linspace(0, len(frames) - 1, min(len(frames), max_frames))
    picked = [frames[int(round(i))] for i in idx]
    gap = np.full((picked[0].shape[0], 4, 3), 255, np.uint8)
    row = []
    for f in picked:
        row += [f, gap]
    return np.concatenate(row[:-1], 1)[..., ::-1]


def _decode_all(path: str) -> np.ndarray:
    import av
    with av.open(path) as container:
        frames = [
            f.to_ndarray(format='rgb24') for f in container.decode(video=0)
        ]
    return np.stack(frames)


def run_video_inference(videos: Union[str, Sequence[str]],
                        config,
                        weights: Optional[str] = None,
                        out_dir: str = 'work_dirs/video_demo',
                        device: str = 'cpu',
                        ground_truth: Union[None, str, Dict[str, int]] = None,
                        vis_scale: int = 4,
                        model=None,
                        allow_partial_checkpoint: bool = False) -> Dict:
    """Recognise ``videos``, draw to ``out_dir/vis``, save predictions to
    ``out_dir/preds``.

    Args:
        videos (str | Sequence[str]): Video files or directories.
        config (str | Config): The recognizer's config.
        weights (str, optional): Checkpoint (read weights-only). Defaults
            to None: random init.
        out_dir (str): Output directory. Defaults to
            ``'work_dirs/video_demo'``.
        device (str): Torch device. Defaults to ``'cpu'``.
        ground_truth (str | dict, optional): An annotation list file, or a
            dict absolute path -> label; drawn with the prediction. Defaults
            to None.
        vis_scale (int): Integer upscaling of the drawings. Defaults to 4.
        model (nn.Module, optional): A ready model from
            :func:`build_recognizer`. Defaults to None.
        allow_partial_checkpoint (bool): Load ``weights`` even when not
            every tensor fits the model. Defaults to False (refused).

    Returns:
        dict: ``videos`` (inputs), ``vis_files`` (the drawn ``.mp4``),
        ``strip_files`` (the ``.jpg`` strips) and ``predictions`` (one dict
        per video: ``label``, ``class``, ``score``, ``scores``, and
        ``gt_label`` when known).
    """
    import cv2
    from mmaction.apis import inference_recognizer

    from uniformer_mm.datasets.synthetic_video import write_video

    if isinstance(videos, str):
        videos = [videos]
    videos = list_videos(videos)
    if model is None:
        model = build_recognizer(config, weights, device,
                                 allow_partial_checkpoint)
    classes = (model.dataset_meta or {}).get('classes')
    if isinstance(ground_truth, str):
        ground_truth = read_annotation_list(ground_truth)
    ground_truth = ground_truth or {}
    vis_dir, pred_dir = output_dirs(out_dir)

    out = dict(videos=videos, vis_files=[], strip_files=[], predictions=[])
    for path in videos:
        sample = inference_recognizer(model, path)
        scores = sample.pred_score.detach().cpu().float()
        if getattr(model.cls_head, 'average_clips', 'prob') != 'prob':
            # the zoo configs average logits over views (the official
            # test); the demo reports probabilities
            scores = scores.softmax(0)
        label = int(scores.argmax())
        name = classes[label] if classes else str(label)
        pred = dict(
            label=label,
            score=round(float(scores[label]), 4),
            scores=[round(float(s), 4) for s in scores])
        pred['class'] = name
        text = [(f'pred: {name} {pred["score"]:.2f}', _WHITE)]
        gt = ground_truth.get(osp.normpath(osp.abspath(path)))
        if gt is not None:
            pred['gt_label'] = gt
            gt_name = classes[gt] if classes else str(gt)
            text = [(f'pred: {name} {pred["score"]:.2f}',
                     _GREEN if gt == label else _RED),
                    (f'gt:   {gt_name}', _WHITE)]
        stem = osp.splitext(osp.basename(path))[0]
        with open(osp.join(pred_dir, f'{stem}.json'), 'w') as f:
            json.dump(dict(video=path, **pred), f, indent=1)
        drawn = draw_video(_decode_all(path), text, vis_scale)
        vis_file = osp.join(vis_dir, f'{stem}.mp4')
        write_video(vis_file, drawn)
        strip_file = osp.join(vis_dir, f'{stem}.jpg')
        cv2.imwrite(strip_file, _strip(drawn))
        out['vis_files'].append(vis_file)
        out['strip_files'].append(strip_file)
        out['predictions'].append(pred)
    return out


def parse_args(argv=None):
    parser = demo_parser(
        'Recognise videos with a video config (MMAction2 '
        'inference_recognizer) and draw the predictions.',
        'VIDEO',
        'work_dirs/demo/video/model_weights.pth',
        'work_dirs/video_demo',
        'annotation list ("path label" per line, paths relative to the '
        'list) to draw the ground truth, e.g. '
        'data/synthetic_video/val_list.txt',
        vis_scale=4)
    return parse_demo_args(parser, 'VIDEO', argv)


def main(argv=None):
    args = parse_args(argv)
    out = run_video_inference(args.inputs, **run_kwargs(args))

    def describe(pred):
        gt = f' (gt {pred["gt_label"]})' if 'gt_label' in pred else ''
        return f'{pred["class"]} {pred["score"]:.2f}{gt}'

    print_outputs(out['videos'], out['vis_files'], out['predictions'],
                  describe, args.out_dir)
    return out


if __name__ == '__main__':
    main()
