"""One exception type for every user-facing failure.

Each error names the problem and the fix in one message; the CLI prints it without a traceback.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "PDFNotFoundError", "SmeftfmError", "UnknownOperatorError"]


class SmeftfmError(Exception):
    """A problem the user can fix (bad parameter, missing PDF set, corrupt file, ...)."""


class ConfigError(SmeftfmError):
    """``params.yaml`` (or an override) is malformed or has a bad value."""


class UnknownOperatorError(SmeftfmError, KeyError):
    """An operator name that is not in the catalog."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class PDFNotFoundError(SmeftfmError):
    """A PDF set that cannot be found in any search path."""


class DataError(SmeftfmError):
    """A missing, corrupt or inconsistent data file."""
