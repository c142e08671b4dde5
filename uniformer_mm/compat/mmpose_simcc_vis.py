"""Stand-in for ``mmpose.visualization.simcc_vis`` when torchvision is absent.

MMPose 1.3.2 imports ``torchvision.transforms.ToPILImage`` at the top of
``simcc_vis.py``, and ``PoseLocalVisualizer`` imports that module, so
without torchvision no MMPose visualizer can be built: not the one of
``default_runtime.py`` that every Runner builds, not the inferencers'.
torchvision is not installed on CPU machines here (PyPI has only CUDA
builds, which fail to import beside the CPU torch). ``ToPILImage`` is used
only by ``SimCCVisualizer``, which draws SimCC 1-D heatmaps -- nothing a
heatmap model needs.

:func:`install` puts a finder first on ``sys.meta_path`` that answers for
that one module name, and only when torchvision cannot be found. Its
``SimCCVisualizer`` raises a clear error if anything draws SimCC heatmaps.
With torchvision installed the real module is used. Nothing in
site-packages is modified.
"""
import importlib.abc
import importlib.machinery
import importlib.util
import sys

_MODULE = 'mmpose.visualization.simcc_vis'


class _SimCCVisualizerWithoutTorchvision:
    """Placeholder for MMPose's SimCC heatmap drawer (needs torchvision)."""

    def __getattr__(self, name):
        raise RuntimeError(
            "MMPose's SimCCVisualizer needs torchvision, which is not "
            'installed (uniformer_mm stands in for mmpose.visualization.'
            'simcc_vis so that PoseLocalVisualizer works without it). Install '
            'a torchvision matching your torch to draw SimCC heatmaps.')


class _StandInLoader(importlib.abc.Loader):

    def create_module(self, spec):
        return None  # default module creation

    def exec_module(self, module):
        module.SimCCVisualizer = _SimCCVisualizerWithoutTorchvision
        module.SimCCVisualizer.__name__ = 'SimCCVisualizer'


class _StandInFinder(importlib.abc.MetaPathFinder):

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _MODULE:
            return None
        return importlib.machinery.ModuleSpec(fullname, _StandInLoader())


def install() -> None:
    """Make ``mmpose.visualization`` importable without torchvision
    (idempotent; a no-op when torchvision is installed)."""
    if any(isinstance(f, _StandInFinder) for f in sys.meta_path):
        return
    try:
        if importlib.util.find_spec('torchvision') is not None:
            return
    except (ImportError, ValueError):
        pass
    # first: the module's own file would otherwise be found and fail
    sys.meta_path.insert(0, _StandInFinder())
