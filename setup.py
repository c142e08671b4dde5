"""Packaging for ``uniformer_mm``: UniFormer backbones as an OpenMMLab 2.0
plugin.

The declared requirements are deliberately loose (they say what the code works
with).  The exact CPU stack that is tested lives in ``requirements/*.txt``
and is
installed, in the right order, by ``scripts/bootstrap.sh`` (``make venv``).

Install torch *before* this package: letting pip pull ``torch`` in as a
dependency gives you the default CUDA build from PyPI (several GB).
"""
import os
import re
import shutil
from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))

# Shipped the OpenMMLab way, in uniformer_mm/.mim/, where MMEngine's
# ``uniformer_mm::`` configs and ``mim`` look for them.
MIM_FILES = ('configs', 'tools', 'model-index.yml')
# Its import line installs the start-up hooks of _uniformer_mm_startup.py.
STARTUP_PTH = 'uniformer_mm-startup.pth'


def get_version():
    """``__version__`` of uniformer_mm/version.py, read without importing."""
    path = os.path.join(HERE, 'uniformer_mm', 'version.py')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    m = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    if m is None:
        raise RuntimeError(f'cannot find __version__ in {path}')
    return m.group(1)


def get_long_description():
    path = os.path.join(HERE, 'README.md')
    if not os.path.exists(path):
        return ''
    with open(path, encoding='utf-8') as f:
        return f.read()


def _link_mim_files():
    """Editable install: uniformer_mm/.mim/* are symlinks to the checkout."""
    mim_dir = os.path.join(HERE, 'uniformer_mm', '.mim')
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        link = os.path.join(mim_dir, name)
        if os.path.islink(link) or os.path.isfile(link):
            os.remove(link)
        elif os.path.isdir(link):
            shutil.rmtree(link)
        os.symlink(os.path.relpath(os.path.join(HERE, name), mim_dir), link)


def _copy_mim_files(package_dir):
    """Wheel: real copies of the zoo in <build_lib>/uniformer_mm/.mim."""
    mim_dir = os.path.join(package_dir, '.mim')
    if os.path.lexists(mim_dir):
        if os.path.islink(mim_dir):
            os.remove(mim_dir)
        else:
            shutil.rmtree(mim_dir)
    os.makedirs(mim_dir)
    skip = shutil.ignore_patterns('__pycache__', '*.py[cod]')
    for name in MIM_FILES:
        src = os.path.join(HERE, name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(mim_dir, name), ignore=skip)
        else:
            shutil.copy2(src, mim_dir)


class BuildPy(build_py):
    """``build_py`` that also ships ``.mim`` and the start-up ``.pth``.

    A wheel gets copies; an editable install gets symlinks in the checkout
    (what mmdet's and mmseg's ``add_mim_extension`` do for ``develop``) and
    the ``.pth`` written straight into the editable wheel, so ``pip
    uninstall`` removes it in both cases.
    """

    def run(self):
        super().run()
        pth = os.path.join(HERE, STARTUP_PTH)
        if getattr(self, 'editable_mode', False):
            _link_mim_files()
            # setuptools points install_lib at the unpacked editable wheel
            wheel_root = getattr(
                self.distribution.get_command_obj('install'), 'install_lib',
                None)
            if wheel_root and os.path.isdir(wheel_root):
                shutil.copy2(pth, wheel_root)
        else:
            _copy_mim_files(os.path.join(self.build_lib, 'uniformer_mm'))
            shutil.copy2(pth, self.build_lib)


setup(
    name='uniformer_mm',
    version=get_version(),
    description='UniFormer backbones for OpenMMLab 2.0 '
    '(mmdet, mmseg, mmpose, mmaction2)',
    long_description=get_long_description(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['uniformer_mm', 'uniformer_mm.*']),
    py_modules=['_uniformer_mm_startup'],
    cmdclass={'build_py': BuildPy},
    package_data={'uniformer_mm': ['checkpoints/*.json.gz']},
    include_package_data=True,
    python_requires='>=3.8',
    install_requires=[
        'torch>=2.4',
        'mmengine>=0.10.4,<1.0',
        'mmcv>=2.0.0rc4,<2.2.0',
        'numpy',
    ],
    extras_require={
        'det': ['mmdet>=3.0,<3.4'],
        'seg': ['mmsegmentation>=1.0,<2'],
        'pose': ['mmpose>=1.0,<2'],
        'video': ['mmaction2>=1.0,<2'],
        'tests': ['pytest'],
    },
    classifiers=[
        'Programming Language :: Python :: 3',
        'License :: OSI Approved :: MIT License',
        'Operating System :: OS Independent',
    ],
    zip_safe=False,
)
