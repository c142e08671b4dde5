"""Run a video recognition config on videos and draw the predicted class.

    python tools/demo/video_demo.py --help

The command line of :mod:`uniformer_mm.apis.video_inference`, where the
inference, the drawing and the arguments are documented.
"""
from uniformer_mm.apis.video_inference import main

if __name__ == '__main__':
    main()
