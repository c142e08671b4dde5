"""Run a trained top-down pose config on images and draw the keypoints.

    python tools/demo/pose_demo.py --help

The command line of :mod:`uniformer_mm.apis.pose_inference`, where the
inference, the drawing and the arguments are documented.
"""
from uniformer_mm.apis.pose_inference import main

if __name__ == '__main__':
    main()
