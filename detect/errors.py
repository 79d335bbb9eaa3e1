"""Errors raised by the ``detect`` package.

Every error is a ``DetectorError`` *and* the builtin exception it refines, so callers can catch
either ``DetectorError`` (anything from this package) or, say, ``FileNotFoundError``.
"""


class DetectorError(Exception):
    """Base class of the errors raised by the ``detect`` package."""


class ModelNotFoundError(DetectorError, FileNotFoundError):
    """The model file does not exist."""


class UnknownBackendError(DetectorError, ValueError):
    """The requested inference backend is not one we support."""


class ModelFormatError(DetectorError, ValueError):
    """The model, its metadata or its output is not what a YOLO detector should have."""


class MediaError(DetectorError, ValueError):
    """The media of a re-analysis job cannot be analysed; the message says why, in words for
    the operator (it becomes the failed job's ``detail``), and ``code`` names the case so the
    page can say it in the operator's language (``no_recordings``, ``upload_missing``,
    ``unreadable``)."""

    def __init__(self, message: str, code: str = "unreadable") -> None:
        super().__init__(message)
        self.code = code
