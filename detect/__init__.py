"""Object detection, tracking and rules: from analysis frames to alerts, on the CPU.

The path of a frame through this package, left to right:

* ``relay`` (in the supervisor) and ``batcher``: frame handles from every camera, the newest
  frame of each, fair batches (``pending``, ``scheduler``), load gauges (``load``);
* ``detector``: ``letterbox`` turns frames into the model's input tensor, a ``backends``
  runtime (OpenVINO or onnxruntime) runs the network, ``postprocess`` decodes its raw output
  into ``Detections`` in source-frame pixels;
* ``tracking``: per-camera ByteTrack gives each detection a track id;
* ``rules``: zones (``zones``) and lines (``lines``) turn tracked detections into rule events;
* ``alerts``: events become stored alerts with pictures (``snapshots``, ``sightings``);
* ``core``: the process that runs all of the above (the supervisor's "analysis down" alert
  when that process dies is :mod:`matthan.analysis_watch`).

Nothing here imports torch or ultralytics; the detections match ``ultralytics.YOLO.predict``.
"""
