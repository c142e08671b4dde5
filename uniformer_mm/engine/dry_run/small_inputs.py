"""CI mode of the dry run (``--small-inputs``, the zoo tests): smaller
images, crops and clips and fewer test clips, each reported as a change.
A user's dry run keeps the config's own sizes."""
from typing import Callable, Iterator, Tuple

from mmengine.config import Config

from ...datasets.wrappers import leaf_datasets

_LOADER_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _pipelines(cfg: Config) -> Iterator[Tuple[str, list]]:
    for key in _LOADER_KEYS:
        loader = cfg.get(key)
        if not loader:
            continue
        for dataset in leaf_datasets(loader.get('dataset')):
            if dataset.get('pipeline'):
                yield key.split('_')[0], dataset['pipeline']


def _transforms(pipeline) -> Iterator[dict]:
    """Every transform dict of a pipeline, also inside RandomChoice /
    TestTimeAug style containers."""
    for item in pipeline:
        if isinstance(item, (list, tuple)):
            yield from _transforms(item)
        elif isinstance(item, dict):
            yield item
            for key in ('transforms', 'transform'):
                if isinstance(item.get(key), (list, tuple)):
                    yield from _transforms(item[key])
                elif isinstance(item.get(key), dict):
                    yield from _transforms([item[key]])


def _smaller(value, factor: float):
    """A size scaled by ``factor``, rounded to a multiple of 32 (>= 32);
    -1 and other non-positive placeholders stay."""
    if isinstance(value, (list, tuple)):
        return type(value)(_smaller(v, factor) for v in value)
    if isinstance(value, (int, float)) and value > 0:
        return max(32, int(round(value * factor / 32)) * 32)
    return value


_SIZE_KEYS = ('scale', 'scales', 'crop_size', 'img_scale')
_SAMPLERS = ('SampleFrames', 'SlowFastSampleFrames', 'UniformSample',
             'UniformSampleFrames', 'DenseSampleFrames')


def shrink_inputs(cfg: Config,
                  change: Callable[[str], None],
                  factor: float = 0.25,
                  max_clip_len: int = 8,
                  max_test_clips: int = 2) -> None:
    """CI mode: smaller images, crops and clips, fewer test clips. Pose
    configs keep their sizes (the codec ties them to the head)."""
    if cfg.get('default_scope') == 'mmpose':
        return
    sizes = clips = views = 0
    for split, pipeline in _pipelines(cfg):
        for t in _transforms(pipeline):
            for key in _SIZE_KEYS:
                if key in t and not isinstance(t[key], (str, bool)):
                    t[key] = _smaller(t[key], factor)
                    sizes += 1
            if t.get('type') in _SAMPLERS:
                if t.get('clip_len', 0) > max_clip_len:
                    t['clip_len'] = max_clip_len
                    clips += 1
                if split != 'train' and t.get('num_clips', 1) > max_test_clips:
                    t['num_clips'] = max_test_clips
                    views += 1
    model = cfg.model
    preprocessor = model.get('data_preprocessor') or {}
    if preprocessor.get('size'):
        preprocessor['size'] = _smaller(preprocessor['size'], factor)
        sizes += 1
    test_cfg = model.get('test_cfg') or {}
    if test_cfg.get('mode') == 'slide':
        test_cfg['crop_size'] = _smaller(test_cfg['crop_size'], factor)
        test_cfg['stride'] = _smaller(test_cfg['stride'], factor)
        sizes += 1
    if sizes:
        change(f'small inputs (CI mode): {sizes} image/crop sizes x{factor} '
               '(multiples of 32, e.g. 224 -> 64)')
    if clips:
        change(f'small inputs (CI mode): clip_len <= {max_clip_len} in '
               f'{clips} samplers')
    if views:
        change(f'small inputs (CI mode): test clips <= {max_test_clips} in '
               f'{views} samplers')
