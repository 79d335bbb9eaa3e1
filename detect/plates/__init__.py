"""Vietnamese licence plates: find the plate in a crop, read it, normalise it, vote per track.

The path of a crop through this package, left to right:

* ``models``: the PP-OCRv4 text detection and recognition ONNX models that the
  ``rapidocr-onnxruntime`` wheel ships, opened with onnxruntime (nothing is downloaded);
* ``text_lines``: the text detector (DBNet) turns a crop into upright images of its text lines;
* ``text_read``: the recogniser (SVTR + CTC) reads each line, restricted to the characters a
  plate can hold;
* ``rows``: lines side by side become rows; one row, or two rows stacked, become a candidate;
* ``formats``: a candidate becomes a plate of Circular 24/2023/TT-BCA, with confusable
  characters resolved by position, or nothing;
* ``reader``: all of the above, one call per crop (:class:`PlateReader`);
* ``vote``: the reads of one track become one plate with a confidence (:class:`PlateVote`).
"""

from detect.plates.formats import normalise_plate
from detect.plates.reader import PlateRead, PlateReader
from detect.plates.vote import PlateVote, TrackPlate

__all__ = ["PlateRead", "PlateReader", "PlateVote", "TrackPlate", "normalise_plate"]
