"""Object detection: YOLO models run on the CPU through OpenVINO or onnxruntime.

The pieces compose left to right: ``letterbox`` turns camera frames into the model's input
tensor, a ``backends`` runtime runs the network, ``postprocess`` decodes its raw output into
``Detections`` in source-frame pixels, and ``detector.Detector`` ties the three together.
Nothing here imports torch or ultralytics; the results match ``ultralytics.YOLO.predict``.
"""
