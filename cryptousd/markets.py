"""One market type: every spelling of a trading pair, parsed and printed in one place.

A market is a base asset priced in a quote asset (``BTC`` in ``USD``). Each place that names one
spells it its own way; :class:`Market` reads all of them and prints each::

    >>> m = Market.parse("btcusdt")
    >>> m.ccxt, m.binance, m.dash, m.key, m.slug
    ('BTC/USDT', 'BTCUSDT', 'BTC-USDT', 'BTC-USDT', 'btcusdt')
    >>> Market.parse("ETH-USD").ccxt, Market.from_archive_name("ETHUSDT-1m-2025-01.zip").ccxt
    ('ETH/USD', 'ETH/USDT')

The code passes a :class:`Market` down and asks it for the spelling it needs, never re-spells a
string by hand. A pair written without a separator (``BTCUSDT``) is split at the longest quote
asset of :data:`QUOTE_ASSETS` it ends with; write ``BASE/QUOTE`` where that would be ambiguous.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

from .errors import DataError

__all__ = ["DOLLARS", "QUOTE_ASSETS", "Market", "as_market"]

#: Quote assets a joined pair (``BTCUSDT``) may end with, longest matched first.
QUOTE_ASSETS = (
    "FDUSD",
    "USDT",
    "USDC",
    "BUSD",
    "TUSD",
    "DAI",
    "USD",
    "EUR",
    "GBP",
    "TRY",
    "BRL",
    "JPY",
    "BTC",
    "ETH",
    "BNB",
)
#: Quotes worth one US dollar (within a few basis points): a model of BTC/USDT prices BTC/USD.
DOLLARS = frozenset({"USD", "USDT", "USDC", "FDUSD", "BUSD", "TUSD", "DAI"})

_ASSET = re.compile(r"^[A-Z0-9]{1,15}$")
_SEPARATED = re.compile(r"^([A-Za-z0-9]+)\s*[/\-_: ]\s*([A-Za-z0-9]+)$")
_ARCHIVE = re.compile(
    r"^([A-Z0-9]{2,20})-(\d+[smhdwM])-\d{4}-\d{2}(?:-\d{2})?(?:_\d{2})?\.(?:zip|csv|csv\.gz)$",
    re.IGNORECASE,
)
_HINT = "write it as BASE/QUOTE (BTC/USD), BASE-QUOTE (BTC-USD) or a Binance pair (BTCUSDT)"


@dataclass(frozen=True, order=True)
class Market:
    """A trading pair: ``base`` priced in ``quote``, both upper-case asset codes."""

    base: str
    quote: str

    def __post_init__(self):
        for part, what in ((self.base, "base"), (self.quote, "quote")):
            if not isinstance(part, str) or not _ASSET.match(part):
                raise DataError(f"market {self.base}/{self.quote}: bad {what} asset; {_HINT}")
        if self.base == self.quote:
            raise DataError(f"market {self.base}/{self.quote}: base and quote are the same")

    # reading ---------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str | Market) -> Market:
        """Any spelling: ``BTC/USD`` (ccxt), ``BTC-USD`` (Coinbase, Yahoo, store keys),
        ``BTC_USD``, ``BTCUSDT`` (Binance), in any case, with surrounding spaces.

        Raises
        ------
        DataError : one line naming the text and the spellings that are understood.
        """
        if isinstance(text, Market):
            return text
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"market {text!r}: empty; {_HINT}")
        raw = text.strip()
        if ":" in raw and "/" in raw:  # ccxt derivatives: BTC/USDT:USDT
            raise DataError(
                f"market {raw!r}: a derivative (settled in {raw.split(':')[-1]}); "
                "CryptoUSD forecasts spot pairs: drop the ':SETTLE' part"
            )
        match = _SEPARATED.match(raw)
        if match:
            return cls(match.group(1).upper(), match.group(2).upper())
        joined = raw.upper()
        if not joined.isalnum():
            raise DataError(f"market {raw!r}: unexpected characters; {_HINT}")
        for quote in sorted(QUOTE_ASSETS, key=len, reverse=True):
            if joined.endswith(quote) and len(joined) - len(quote) >= 2:
                return cls(joined[: -len(quote)], quote)
        raise DataError(
            f"market {raw!r}: no known quote asset at its end (known: {', '.join(QUOTE_ASSETS)}); "
            f"{_HINT}"
        )

    @classmethod
    def from_archive_name(cls, path: str | PurePath) -> Market | None:
        """The market a Binance archive's file name tells (``ETHUSDT-1m-2025-01.zip`` ->
        ETH/USDT), or ``None`` when the name is not an archive name or names no known quote."""
        match = _ARCHIVE.match(PurePath(path).name)
        if not match:
            return None
        try:
            return cls.parse(match.group(1))
        except DataError:
            return None

    # writing ---------------------------------------------------------------------------------
    @property
    def ccxt(self) -> str:
        """``BTC/USD``: ccxt, the feed's API, the dashboard, model cards."""
        return f"{self.base}/{self.quote}"

    @property
    def binance(self) -> str:
        """``BTCUSD``: Binance's REST and archive name of the pair."""
        return f"{self.base}{self.quote}"

    @property
    def dash(self) -> str:
        """``BTC-USD``: Coinbase's product id and Yahoo's ticker."""
        return f"{self.base}-{self.quote}"

    yahoo = dash
    coinbase = dash

    @property
    def key(self) -> str:
        """``BTC-USD``: the store's folder name (no ``/`` in a path)."""
        return self.dash

    @property
    def slug(self) -> str:
        """``btcusd``: the lower-case piece of a model's name (``lstm-direct-btcusdt-1m``)."""
        return self.binance.lower()

    def archive_name(self, month: str, interval: str = "1m") -> str:
        """``BTCUSDT-1m-2025-01.zip``: a monthly file of Binance's public archive."""
        return f"{self.binance}-{interval}-{month}.zip"

    def archive_glob(self, interval: str = "1m") -> str:
        return f"{self.binance}-{interval}-*.zip"

    def __str__(self) -> str:
        return self.ccxt

    # comparing -------------------------------------------------------------------------------
    @property
    def in_dollars(self) -> bool:
        return self.quote in DOLLARS

    def same_price(self, other: Market) -> bool:
        """True when the two quote the same thing: equal, or the same base in two dollars
        (BTC/USD and BTC/USDT differ by a stablecoin's few basis points)."""
        other = Market.parse(other)
        if self == other:
            return True
        return self.base == other.base and self.in_dollars and other.in_dollars


def as_market(value: str | Market | None, default: str | Market | None = None) -> Market:
    """``value`` parsed, or ``default`` when it is None or empty (the config's default market
    when that is None too)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if default is None:
            from .config import DEFAULT_SYMBOL

            default = DEFAULT_SYMBOL
        value = default
    return Market.parse(value)
