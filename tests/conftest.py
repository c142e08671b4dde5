import copy
import functools
import importlib
from pathlib import Path

import pytest
import torch
import yaml
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope

import uniformer_mm  # noqa: F401  (registers everything)
from uniformer_mm.checkpoints import install_weights_only_loader

# as our tools do: MMEngine loads local checkpoints weights-only
# (tests/checkpoints/test_safe_loading.py checks the import alone does not)
install_weights_only_loader()


def _cache_codebase_metafiles():
    """MMEngine looks a ``mmseg::``-style base up in every metafile of the
    codebase (200+ YAML files, ~0.5 s) before trying ``.mim/configs``, for
    every such base of every config parsed; the answer cannot change within
    a session, so it is looked up once."""
    from mmengine.config import utils
    lookup = utils._get_cfg_metainfo
    if hasattr(lookup, 'cached'):
        return

    @functools.lru_cache(maxsize=None)
    def cached(package_path, cfg_path):
        try:
            return lookup(package_path, cfg_path)
        except ValueError as error:  # not a metafile config: a base
            return error

    def get_cfg_metainfo(package_path, cfg_path):
        found = cached(package_path, cfg_path)
        if isinstance(found, ValueError):
            raise ValueError(*found.args)
        return copy.deepcopy(found)

    get_cfg_metainfo.cached = cached
    utils._get_cfg_metainfo = get_cfg_metainfo


_cache_codebase_metafiles()
# the session's config, for the hooks below
_REPORTER = []
ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / 'configs'
ZOO_TASKS = ('detection', 'segmentation', 'pose', 'video')
# not zoo models: shared bases, demo configs, fine-tuning templates
NOT_ZOO = {'_base_', 'demo', 'custom'}


def zoo_configs():
    """Every zoo config, as its path under configs/ (``task/[sub/]name.py``),
    in task order, then sorted."""
    found = []
    for task in ZOO_TASKS:
        for path in sorted((CONFIGS / task).rglob('*.py')):
            rel = path.relative_to(CONFIGS)
            if not NOT_ZOO & set(rel.parts[:-1]):
                found.append(rel.as_posix())
    return found


# Zoo configs whose dry run is another zoo config's: config -> (the config
# whose dry run stands for it, what alone may differ between the two as
# (old, new) substrings of their annotation-file paths). The zoo dry run
# (test_zoo_dry_run.py) skips them, naming the config that covers each;
# test_zoo_dry_run.py::test_covered_configs_differ_only_in_annotation_files
# checks, on the resolved configs, that nothing else differs.
# UCF101 / HMDB51 splits 2 and 3: split 1's recipe on other lists.
_UCF_HMDB = 'video/uniformer-s_k400-pre_8xb16-16x4x1-25e_{}-split{}-rgb.py'
DRY_RUN_COVERED_BY = {
    _UCF_HMDB.format(data, k):
    (_UCF_HMDB.format(data, 1), ('_split_1_', f'_split_{k}_'))
    for data in ('ucf101', 'hmdb51')
    for k in (2, 3)
}


def build_zoo_model(cfg):
    """The model of a loaded config, built without its pretrained weights,
    as a Runner of the config's codebase builds it."""
    scope = cfg.default_scope
    importlib.import_module(f'{scope}.utils').register_all_modules(
        init_default_scope=False)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None  # no weights offline
    # the scope restored afterwards, so that other tests see theirs
    with DefaultScope.overwrite_default_scope(scope):
        return importlib.import_module(f'{scope}.registry').MODELS.build(
            model_cfg)


def metafile_models(metafile):
    """The models of a metafile (path under the repository), checked for
    what every metafile needs: a known collection, ``Name`` = the config's
    stem, the config on disk, each config listed once."""
    with open(ROOT / metafile) as f:
        meta = yaml.safe_load(f)
    collections = {c['Name'] for c in meta['Collections']}
    for model in meta['Models']:
        assert model['In Collection'] in collections, model['Name']
        assert model['Name'] == Path(model['Config']).stem
        assert (ROOT / model['Config']).is_file(), (
            f'{model["Config"]} in {metafile}, not on disk')
    listed = [m['Config'] for m in meta['Models']]
    assert len(listed) == len(set(listed)), metafile
    return meta['Models']


def pytest_configure(config):
    _REPORTER.append(config)
    config.addinivalue_line('markers',
                            'slow: end-to-end runs, excluded by `make test`')
    config.addinivalue_line(
        'markers', 'zoo: dry run of every zoo config (`make test-zoo`), '
        'excluded by `make test` and `make test-slow`')


def pytest_runtest_logreport(report):
    """Print the ``verdict`` property of a test (the zoo dry runs' summary
    lines) in the log, also when it ran on a pytest-xdist worker, whose own
    output never reaches the log."""
    if report.when != 'call':
        return
    reporter = _REPORTER[0].pluginmanager.get_plugin('terminalreporter')
    for name, value in report.user_properties:
        if name == 'verdict' and reporter is not None:
            reporter.write_line('')
            reporter.write_line(value)


@pytest.fixture(scope='session')
def official_keys():
    """State-dict keys and shapes of every official model (recorded from the
    official code, shipped in uniformer_mm/checkpoints).
    """
    from uniformer_mm.checkpoints import official_state_dict_shapes
    return official_state_dict_shapes()


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Each test leaves torch's thread count and MMEngine's default scope
    as it found them: tests that set one thread (for speed) or a codebase's
    scope must not change what the next test runs under."""
    threads = torch.get_num_threads()
    scopes = DefaultScope._instance_dict.copy()
    yield
    torch.set_num_threads(threads)
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(scopes)


def randomize_(model: torch.nn.Module) -> torch.nn.Module:
    """Give every parameter and BatchNorm statistic non-trivial values so that
    comparisons exercise them (fresh norms are identities)."""
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith('num_batches_tracked'):
                continue
            if name.endswith('running_var'):
                tensor.uniform_(0.5, 2.0)
            else:
                tensor.normal_(0, 0.1 if tensor.dim() > 1 else 0.5)
    return model


class Killed(Exception):
    """Raised by :class:`KillAfter`: a training job dying mid-run."""


class KillAfter(Hook):
    """Kills training after iteration ``iters``, once its checkpoint exists."""
    priority = 'LOWEST'  # after CheckpointHook of the same iteration

    def __init__(self, iters):
        self.iters = iters

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.iters:
            raise Killed
