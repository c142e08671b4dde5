"""Run a detection / segmentation (or pose) config on images and draw.

    python tools/demo/image_demo.py --help

The command line of :mod:`uniformer_mm.apis.image_inference`, where the
inference, the drawing and the arguments are documented.
"""
from uniformer_mm.apis.image_inference import main

if __name__ == '__main__':
    main()
