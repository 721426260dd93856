"""One market type spells every symbol: each source's spelling parses back to the same market
(cryptofeed's symbol normalisation tests are the model), and bad spellings fail in one line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cryptousd.errors import DataError
from cryptousd.markets import DOLLARS, QUOTE_ASSETS, Market, as_market

# (text, base, quote): what each source writes, and the market it names
SPELLINGS = [
    ("BTC/USD", "BTC", "USD"),  # ccxt, the feed, the dashboard
    ("btc/usd", "BTC", "USD"),
    ("BTCUSDT", "BTC", "USDT"),  # Binance REST and archives
    ("btcusdt", "BTC", "USDT"),
    ("BTC-USD", "BTC", "USD"),  # Coinbase product id, Yahoo ticker, store key
    ("ETH-USDT", "ETH", "USDT"),
    ("SOL_USDC", "SOL", "USDC"),
    (" eth/btc ", "ETH", "BTC"),
    ("ETHBTC", "ETH", "BTC"),
    ("ETHBNB", "ETH", "BNB"),  # the copy of QUOTE_ASSETS in binance_vision refused this one
    ("BTCFDUSD", "BTC", "FDUSD"),  # the longest quote wins over USD
    ("SHIBUSDT", "SHIB", "USDT"),
    ("1000PEPEUSDT", "1000PEPE", "USDT"),
]


@pytest.mark.parametrize("text,base,quote", SPELLINGS)
def test_every_spelling_parses_to_its_market(text, base, quote):
    assert Market.parse(text) == Market(base, quote)


@pytest.mark.parametrize("text,base,quote", SPELLINGS)
def test_every_printed_spelling_parses_back_to_the_same_market(text, base, quote):
    m = Market.parse(text)
    for spelling in (m.ccxt, m.binance, m.dash, m.yahoo, m.coinbase, m.key, m.slug, str(m)):
        assert Market.parse(spelling) == m, spelling
    assert Market.from_archive_name(m.archive_name("2025-01")) == m
    assert Market.parse(m) is m


def test_a_joined_pair_keeps_a_base_of_two_letters_or_more():
    assert Market.parse("ABUSD") == Market("AB", "USD")  # not A/BUSD


def test_each_source_gets_its_own_spelling():
    m = Market.parse("ETH/USDT")
    assert (m.ccxt, m.binance, m.dash, m.key, m.slug) == (
        "ETH/USDT",
        "ETHUSDT",
        "ETH-USDT",
        "ETH-USDT",
        "ethusdt",
    )
    assert m.archive_name("2025-03") == "ETHUSDT-1m-2025-03.zip"
    assert m.archive_glob() == "ETHUSDT-1m-*.zip"


@pytest.mark.parametrize(
    "name,market",
    [
        ("BTCUSDT-1m-2025-03.zip", "BTC/USDT"),
        ("ETHUSDT-1m-2025-03-04.zip", "ETH/USDT"),
        ("BTCUSDT-1m-2025-03-25_31.zip", "BTC/USDT"),  # the bundled sample
        ("ethbtc-1m-2024-12.csv", "ETH/BTC"),
        ("/some/folder/ETHBNB-1m-2025-01.csv.gz", "ETH/BNB"),
        ("BTCUSDT.zip", None),
        ("candles.csv", None),
        ("XYZ-1m-2025-01.zip", None),  # no known quote at its end
    ],
)
def test_archive_names(name, market):
    got = Market.from_archive_name(name)
    assert got == (Market.parse(market) if market else None)


@pytest.mark.parametrize(
    "text,words",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("BTC", "no known quote"),
        ("BTC/", "unexpected characters"),
        ("BTC/USD/EUR", "unexpected characters"),
        ("BTC/USDT:USDT", "derivative"),
        ("BTC$USD", "unexpected characters"),
        ("BTC/BTC", "the same"),
        ("A" * 20 + "/USD", "bad base"),
    ],
)
def test_bad_spellings_fail_in_one_line_that_says_how_to_write_it(text, words):
    with pytest.raises(DataError) as err:
        Market.parse(text)
    message = str(err.value)
    assert words in message and "\n" not in message
    assert "BASE/QUOTE" in message or "spot" in message or "same" in message


def test_same_price_treats_dollar_stablecoins_as_one_dollar_and_nothing_else():
    btc_usd = Market.parse("BTC/USD")
    assert btc_usd.same_price("BTCUSDT") and btc_usd.same_price("BTC-USDC")
    assert not btc_usd.same_price("ETH/USD")
    assert not btc_usd.same_price("BTC/EUR")
    assert Market.parse("ETH/BTC").same_price("ETHBTC")
    assert not Market.parse("ETH/BTC").same_price("ETH/USD")
    assert DOLLARS <= set(QUOTE_ASSETS)


def test_as_market_falls_back_to_the_default():
    assert as_market(None) == Market("BTC", "USD")
    assert as_market("", "ETH/USD") == Market("ETH", "USD")
    assert as_market("solusdt") == Market("SOL", "USDT")


ASSET = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=2, max_size=8)


@given(base=ASSET, quote=st.sampled_from(QUOTE_ASSETS))
def test_any_pair_round_trips_through_every_separated_spelling(base, quote):
    if base == quote:
        return
    m = Market(base, quote)
    for spelling in (m.ccxt, m.dash, m.key, f"{base}_{quote}", m.ccxt.lower()):
        assert Market.parse(spelling) == m
    # a joined spelling splits at the longest known quote it ends with, so it round-trips
    # exactly when the base does not itself end in a longer quote (BTCUS + DT is ambiguous)
    joined = Market.parse(m.binance)
    assert joined.base + joined.quote == m.binance
    longest = max(
        (q for q in QUOTE_ASSETS if m.binance.endswith(q) and len(m.binance) - len(q) >= 2), key=len
    )
    assert joined.quote == longest
