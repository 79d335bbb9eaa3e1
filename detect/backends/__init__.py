"""Inference runtimes that run a YOLO ONNX model on the CPU; see ``base.Backend``.

Use ``factory.create_backend``: it imports only the runtime you ask for.
"""
