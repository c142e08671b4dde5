"""uniformer_mm as a package outside this checkout: the start-up hook
(``uniformer_mm-startup.pth``), ``uniformer_mm::`` configs, mim, the wheel.

Everything that concerns "a fresh interpreter" runs in a subprocess from a
temporary directory, in a virtual environment made for the test: it reuses
the running environment's site-packages through a path ``.pth`` (so nothing
is downloaded) but not its ``.pth`` hooks, so the project's own start-up
hook is the only one that runs.
"""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STARTUP_PTH = ROOT / 'uniformer_mm-startup.pth'
ZOO_CONFIG = 'detection/mask-rcnn_uniformer-s-h14_fpn_1x_coco.py'
DET_DEMO = 'mask-rcnn_uniformer-tiny_fpn_synthetic.py'
# one iteration on two synthetic images, no worker processes
ONE_ITER = [
    'synthetic_data.num_train=2', 'synthetic_data.num_val=2',
    'train_cfg.max_iters=1', 'train_cfg.val_interval=1',
    'default_hooks.checkpoint.interval=1', 'train_dataloader.batch_size=1',
    'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
    'test_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'val_dataloader.persistent_workers=False',
    'test_dataloader.persistent_workers=False'
]


def _zoo_models():
    """(name, config) of every model the metafiles list, read with PyYAML."""
    index = yaml.safe_load((ROOT / 'model-index.yml').read_text())
    models = []
    for metafile in index['Import']:
        for model in yaml.safe_load((ROOT / metafile).read_text())['Models']:
            models.append((model['Name'], model['Config']))
    return models


def _make_venv(path: Path) -> Path:
    """A venv whose site-packages reaches the running environment's."""
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(path)],
                   check=True)
    python = path / 'bin' / 'python'
    purelib = Path(
        subprocess.run([
            str(python), '-c',
            'import sysconfig; print(sysconfig.get_paths()["purelib"])'
        ],
                       check=True,
                       capture_output=True,
                       text=True).stdout.strip())
    # a plain path line: the directory joins sys.path after the venv's own
    # site-packages, and ITS .pth files (e.g. the checkout's editable
    # finder) are not run
    shared = sysconfig.get_paths()['purelib']
    (purelib / 'zz_shared_env.pth').write_text(shared + '\n')
    return python


def _run(cmd, cwd, env=None, timeout=900):
    env = dict(os.environ if env is None else env, OMP_NUM_THREADS='1')
    result = subprocess.run([str(c) for c in cmd],
                            cwd=cwd,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=timeout)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]
    return log


def _env_without_pythonpath():
    return {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}


# ------------------------------------------------------- the start-up hook --


def test_startup_pth_is_one_import_line():
    lines = [
        line for line in STARTUP_PTH.read_text().splitlines()
        if line.strip() and not line.startswith('#')
    ]
    # site.py executes a .pth line only if it starts with "import"
    assert len(lines) == 1 and lines[0].startswith('import ')
    assert '_uniformer_mm_startup' in lines[0]


def test_startup_hook_imports_nothing_heavy(tmp_path):
    """The hook runs in every Python process of the environment."""
    code = textwrap.dedent('''
        import json, sys
        before = set(sys.modules)
        exec(open(sys.argv[1]).read())
        print(json.dumps(sorted(set(sys.modules) - before)))
        import _uniformer_mm_startup as m
        print(sum(type(f).__module__ == m.__name__ for f in sys.meta_path))
        m.install()  # idempotent
        print(sum(type(f).__module__ == m.__name__ for f in sys.meta_path))
    ''')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    # -S: no site-packages hooks at all, only the line under test
    out = _run([sys.executable, '-S', '-c', code, STARTUP_PTH], tmp_path,
               env).split('\n')
    assert json.loads(out[0]) == ['_uniformer_mm_startup']
    assert out[1] == out[2] == '1'  # one finder, installed once


def test_startup_hook_is_fail_safe_without_its_module(tmp_path):
    code = 'import sys; exec(open(sys.argv[1]).read()); print("alive")'
    out = _run([sys.executable, '-S', '-c', code, STARTUP_PTH], tmp_path,
               dict(os.environ, PYTHONPATH=str(tmp_path)))
    assert out.strip() == 'alive'


def test_config_hook_registers_uniformer_mm_lazily(tmp_path):
    code = textwrap.dedent('''
        import sys
        import _uniformer_mm_startup as m
        assert 'mmengine.config.utils' not in sys.modules
        m.install()
        from mmengine.config.utils import MODULE2PACKAGE
        from mmengine.utils import get_installed_path
        print(MODULE2PACKAGE['uniformer_mm'])
        print(get_installed_path(MODULE2PACKAGE['uniformer_mm']))
    ''')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = _run([sys.executable, '-c', code], tmp_path, env).splitlines()
    assert out[-2] == 'uniformer_mm.version'
    # the package Python imports (here: the checkout, via PYTHONPATH)
    assert Path(out[-1]) == ROOT / 'uniformer_mm'


def test_drn_stand_in_answers_only_for_the_missing_modules():
    import mmaction

    from _uniformer_mm_startup import CompatFinder
    finder = CompatFinder()
    drn = os.path.join(
        os.path.dirname(mmaction.__file__), 'models', 'localizers', 'drn')
    if os.path.isdir(drn):
        pytest.skip('this mmaction2 ships localizers/drn/')
    pkg = finder.find_spec('mmaction.models.localizers.drn')
    assert pkg is not None and pkg.submodule_search_locations is not None
    assert finder.find_spec('mmaction.models.localizers.drn.drn') is not None
    assert finder.find_spec('mmaction.models.localizers') is None
    assert finder.find_spec('os') is None


@pytest.fixture(scope='module')
def hooked_python(tmp_path_factory):
    """A fresh interpreter of this environment with only our start-up
    hook installed, importing uniformer_mm from the checkout."""
    if not (ROOT / 'uniformer_mm' / '.mim' / 'configs').is_dir():
        pytest.fail('uniformer_mm/.mim/configs is missing: the editable '
                    'install creates it (run `make venv` or '
                    '`pip install -e . --no-deps --no-build-isolation`)')
    python = _make_venv(tmp_path_factory.mktemp('hooked') / 'venv')
    purelib = Path(
        subprocess.run([
            str(python), '-c',
            'import sysconfig; print(sysconfig.get_paths()["purelib"])'
        ],
                       check=True,
                       capture_output=True,
                       text=True).stdout.strip())
    shutil.copy(STARTUP_PTH, purelib)
    return python


def test_fresh_interpreter_mmaction_and_uniformer_mm_configs(
        hooked_python, tmp_path):
    """From a directory outside the checkout, without importing
    uniformer_mm: mmaction.models imports, and uniformer_mm:: resolves in
    _base_ and in mmengine.hub.get_config."""
    (tmp_path / 'my_config.py').write_text(
        f"_base_ = ['uniformer_mm::{ZOO_CONFIG}']\n"
        'train_cfg = dict(max_epochs=3)\n')
    code = textwrap.dedent(f'''
        import json, sys
        import mmaction.models
        first = 'uniformer_mm' in sys.modules
        from mmengine.config import Config
        from mmengine.hub import get_config
        mine = Config.fromfile('my_config.py')
        zoo = get_config('uniformer_mm::{ZOO_CONFIG}')
        ref = Config.fromfile(sys.argv[1])
        print(json.dumps(dict(
            uniformer_mm_imported_by_mmaction=first,
            mine_backbone=mine.model.backbone.to_dict(),
            mine_max_epochs=mine.train_cfg.max_epochs,
            zoo_file=zoo.filename,
            zoo_same=zoo.to_dict() == ref.to_dict(),
            ref_backbone=ref.model.backbone.to_dict())))
    ''')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = _run([hooked_python, '-c', code, ROOT / 'configs' / ZOO_CONFIG],
               tmp_path, env)
    res = json.loads(out.strip().splitlines()[-1])
    assert res['uniformer_mm_imported_by_mmaction'] is False
    assert res['mine_backbone'] == res['ref_backbone']
    assert res['mine_backbone']['type'] == 'UniFormer'
    assert res['mine_max_epochs'] == 3
    assert Path(res['zoo_file']).resolve() == (ROOT / 'configs' /
                                               ZOO_CONFIG).resolve()
    assert res['zoo_same']


# ------------------------------------------------------------------ mim ---


def test_model_index_parses_for_mim():
    """mim reads model-index.yml with the model-index package: every model
    of the metafiles, each with a config that exists."""
    load = pytest.importorskip('modelindex.load_model_index').load
    index = load(str(ROOT / 'model-index.yml'))
    index.build_models_with_collections()
    names = [m.name for m in index.models]
    expected = _zoo_models()
    assert sorted(names) == sorted(n for n, _ in expected)
    assert len(set(names)) == len(names)
    for model in index.models:
        assert (ROOT / model.config).is_file(), model.config


# ---------------------------------------------------------------- wheel ---


@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp('wheel')
    _run([
        sys.executable, '-m', 'pip', 'wheel', '--no-deps',
        '--no-build-isolation', '--no-index', '-q', '-w', out, ROOT
    ], out)
    (whl, ) = out.glob('uniformer_mm-*.whl')
    return whl


def test_wheel_carries_the_zoo(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    mim = 'uniformer_mm/.mim/'
    repo_configs = {
        str(p.relative_to(ROOT))
        for p in (ROOT / 'configs').rglob('*') if p.is_file()
        and '__pycache__' not in p.parts and not p.name.endswith('.pyc')
    }
    assert {mim + c for c in repo_configs} <= names
    assert {mim + c for _, c in _zoo_models()} <= names
    assert mim + 'model-index.yml' in names
    for tool in ('train.py', 'test.py', 'convert_official.py'):
        assert mim + 'tools/' + tool in names
    assert {
        'uniformer_mm-startup.pth', '_uniformer_mm_startup.py',
        'uniformer_mm/__init__.py'
    } <= names
    assert not any(n.endswith('.pyc') for n in names)


@pytest.mark.slow
def test_wheel_install_mim_search_train_test(wheel, tmp_path):
    """Non-editable install into a clean venv; from a temporary directory:
    mim lists the zoo, trains and tests the detection demo (one
    iteration), and mmaction.models imports alone."""
    python = _make_venv(tmp_path / 'venv')
    env = _env_without_pythonpath()
    _run([
        sys.executable, '-m', 'pip', '--python', python, 'install',
        '--no-deps', '--no-index', '-q', wheel
    ], tmp_path, env)
    work = tmp_path / 'work'
    work.mkdir()
    (work /
     'my_config.py').write_text(f"_base_ = ['uniformer_mm::{ZOO_CONFIG}']\n")
    code = textwrap.dedent(f'''
        import sys
        import mmaction.models
        assert 'uniformer_mm' not in sys.modules
        from mmengine.config import Config
        from mmengine.hub import get_config
        mine = Config.fromfile('my_config.py')
        zoo = get_config('uniformer_mm::{ZOO_CONFIG}')
        assert mine.model.backbone.type == 'UniFormer', mine.model.backbone
        assert mine.model.to_dict() == zoo.model.to_dict()
        print(zoo.filename)
    ''')
    zoo_file = _run([python, '-c', code], work, env).strip().splitlines()[-1]
    # the wheel's copy in the venv, not the checkout
    assert zoo_file.startswith(str(tmp_path / 'venv'))
    assert zoo_file.endswith('uniformer_mm/.mim/configs/' + ZOO_CONFIG)

    search = _run([python, '-m', 'mim', 'search', 'uniformer_mm'], work, env)
    listed = [
        line.split(':', 1)[1].strip() for line in search.splitlines()
        if line.startswith('config id:')
    ]
    expected = [Path(c).stem for _, c in _zoo_models()]
    assert sorted(listed) == sorted(expected)

    _run([
        python, '-m', 'mim', 'train', 'uniformer_mm', DET_DEMO, '--work-dir',
        'train', '--cfg-options', *ONE_ITER
    ], work, env)
    ckpt = work / 'train' / 'iter_1.pth'
    assert ckpt.is_file()
    log = _run([
        python, '-m', 'mim', 'test', 'uniformer_mm', DET_DEMO, '--checkpoint',
        ckpt, '--work-dir', 'test', '--cfg-options', *ONE_ITER
    ], work, env)
    assert 'coco/bbox_mAP' in log
