"""Packaging for ``uniformer_mm`` -- UniFormer backbones as an OpenMMLab 2.0 plugin.

The declared requirements are deliberately loose (they say what the code works
with).  The exact CPU stack that is tested lives in ``requirements/*.txt`` and is
installed, in the right order, by ``scripts/bootstrap.sh`` (``make venv``).

Install torch *before* this package: letting pip pull ``torch`` in as a
dependency gives you the default CUDA build from PyPI (several GB).
"""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def get_version():
    """Read ``__version__`` from uniformer_mm/version.py without importing it."""
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


setup(
    name='uniformer_mm',
    version=get_version(),
    description='UniFormer backbones for OpenMMLab 2.0 '
    '(mmdet, mmseg, mmpose, mmaction2)',
    long_description=get_long_description(),
    long_description_content_type='text/markdown',
    packages=find_packages(include=['uniformer_mm', 'uniformer_mm.*']),
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
