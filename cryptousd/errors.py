"""Typed errors. Each message is one line that says what was wrong and what to do."""

from __future__ import annotations


class CryptoUSDError(Exception):
    """Base class of every error this package raises on purpose."""


class DataError(CryptoUSDError, ValueError):
    """Market data that cannot be used: a bad file, a bad frame, a bad range."""


class ModelError(CryptoUSDError, ValueError):
    """A model folder or a forecast request that does not fit."""


class SourceError(CryptoUSDError, RuntimeError):
    """A market-data source failed. ``retry_after`` is a hint in seconds, when known."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitError(SourceError):
    """HTTP 429 / 418: the source asks us to slow down."""


class SourceTimeout(SourceError):
    """The source did not answer in time."""


class SourceUnavailable(SourceError):
    """HTTP 5xx, a maintenance page or a network failure."""


class RegionBlocked(SourceError):
    """HTTP 451 / 403: the source refuses this region (Binance.com refuses US users)."""

    retryable = False


class BadReply(SourceError):
    """The source answered with something that is not the data asked for (HTML, an error JSON)."""
