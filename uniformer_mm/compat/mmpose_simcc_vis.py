"""MMPose: stand-in for ``mmpose.visualization.simcc_vis`` without
torchvision.

Upstream: ``mmpose/visualization/simcc_vis.py`` imports
``torchvision.transforms.ToPILImage`` at module level and
``PoseLocalVisualizer`` imports that module, so without torchvision no MMPose
visualizer can be built (not the one of ``default_runtime.py`` that every
Runner builds, not the inferencers'). We found no upstream issue for it.
torchvision is not installed on CPU machines here: PyPI has only CUDA builds,
which fail to import beside the CPU torch. ``ToPILImage`` serves only
``SimCCVisualizer``, which draws SimCC 1-D heatmaps.

Applies to: mmpose 1.0.0 - 1.3.2 (verified on 1.3.2), and only when
torchvision cannot be found; with torchvision the real module is used. The
stand-in's ``SimCCVisualizer`` raises a clear error if anything draws SimCC
heatmaps.
"""
MODULE = 'mmpose.visualization.simcc_vis'
FIRST, LAST = (1, 0, 0), (1, 3, 2)


def applies(version) -> bool:
    from _uniformer_mm_startup import in_range
    return in_range(version, FIRST, LAST)


class SimCCVisualizerWithoutTorchvision:
    """Placeholder for MMPose's SimCC heatmap drawer (needs torchvision)."""

    def __getattr__(self, name):
        raise RuntimeError(
            "MMPose's SimCCVisualizer needs torchvision, which is not "
            'installed (uniformer_mm stands in for mmpose.visualization.'
            'simcc_vis so that PoseLocalVisualizer works without it). Install '
            'a torchvision matching your torch to draw SimCC heatmaps.')


class _StandInLoader:

    def create_module(self, spec):
        return None  # default module creation

    def exec_module(self, module):
        SimCCVisualizerWithoutTorchvision.__name__ = 'SimCCVisualizer'
        module.SimCCVisualizer = SimCCVisualizerWithoutTorchvision


def torchvision_missing() -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec('torchvision') is None
    except (ImportError, ValueError):
        return True


def find_spec(fullname, real_spec):
    """The stand-in's spec, or None (another version, or torchvision)."""
    from _uniformer_mm_startup import installed_version
    if fullname != MODULE or not applies(installed_version('mmpose')):
        return None
    if not torchvision_missing():
        return None
    from importlib.machinery import ModuleSpec
    return ModuleSpec(fullname, _StandInLoader())


def install() -> None:
    """Make ``mmpose.visualization`` importable without torchvision
    (idempotent; a no-op when torchvision is installed)."""
    from _uniformer_mm_startup import install as install_startup_hook
    install_startup_hook()
