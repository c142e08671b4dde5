"""UniFormer for OpenMMLab 2.0: importing this package registers the
backbones in MMDetection, MMSegmentation, MMPose and MMAction2."""
from .models import UniFormer, UniFormer3D, UniFormerLight, UniFormerLight3D
from .registry import register_all_modules
from .version import __version__

register_all_modules()

__all__ = [
    'UniFormer', 'UniFormer3D', 'UniFormerLight', 'UniFormerLight3D',
    'register_all_modules', '__version__'
]
