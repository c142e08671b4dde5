"""Inference on files for the demos and users: images (MMDetection /
MMSegmentation inferencers), top-down pose (MMPose) and videos (MMAction2),
with drawings; ``tools/demo/*_demo.py`` are their command lines. Import the
submodule you need: each imports its codebase only when it runs."""
