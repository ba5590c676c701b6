"""normalize_postal_code: each country's printed form; an invalid code is dropped and flagged."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadops.leads.normalize import Normalized, normalize_postal_code


def full_width(text):
    """The full-width form of ASCII text, as Japanese and Chinese input methods type it."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("12345", "US", "12345"),
        (" 02134 ", "US", "02134"),
        ("12345-6789", "US", "12345-6789"),
        ("123456789", "US", "12345-6789"),  # bare ZIP+4
        ("12345 6789", "US", "12345-6789"),
        ("12345\u20136789", "US", "12345-6789"),  # en dash
        ("١٢٣٤٥", "US", "12345"),  # Arabic-Indic digits
        ("K1A 0B1", "CA", "K1A 0B1"),
        ("k1a0b1", "CA", "K1A 0B1"),
        ("k1a-0b1", "CA", "K1A 0B1"),
        ("  h2x   1y4 ", "CA", "H2X 1Y4"),
        ("SW1A 1AA", "GB", "SW1A 1AA"),
        ("SW1A1AA", "GB", "SW1A 1AA"),
        ("sw1a 1aa", "GB", "SW1A 1AA"),
        ("M1 1AE", "GB", "M1 1AE"),
        ("m11ae", "GB", "M1 1AE"),
        ("B33 8TH", "GB", "B33 8TH"),
        ("CR2 6XH", "GB", "CR2 6XH"),
        ("DN55 1PT", "GB", "DN55 1PT"),
        ("EC1A1BB", "GB", "EC1A 1BB"),
        ("GIR 0AA", "GB", "GIR 0AA"),
        ("10115", "DE", "10115"),
        ("01067", "DE", "01067"),
        ("D-10115", "DE", "10115"),  # the pre-1993 country prefix
        ("DE-10115", "DE", "10115"),
        ("75001", "FR", "75001"),
        ("75 001", "FR", "75001"),
        ("F-75001", "FR", "75001"),
        ("1012 AB", "NL", "1012 AB"),
        ("1012ab", "NL", "1012 AB"),
        ("NL-1012 AB", "NL", "1012 AB"),
        ("2000", "AU", "2000"),
        (" 0800 ", "AU", "0800"),
        ("100-0001", "JP", "100-0001"),
        ("1000001", "JP", "100-0001"),
        ("〒100-0001", "JP", "100-0001"),
        (full_width("100-0001"), "JP", "100-0001"),
        # the katakana long-vowel mark, typed for a hyphen
        (full_width("100") + "\u30fc" + full_width("0001"), "JP", "100-0001"),
        ("12345", "us", "12345"),  # the country may come in any case
    ],
)
def test_known_countries_get_their_printed_form(raw, country, expected):
    assert normalize_postal_code(raw, country=country) == Normalized(expected)


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("1234", "US", "12345 or 12345-6789"),  # a ZIP that lost its leading zero is not guessed
        ("123456", "US", "12345 or 12345-6789"),
        ("1234567890", "US", "12345 or 12345-6789"),
        ("ABCDE", "US", "12345 or 12345-6789"),
        ("D1A 0B1", "CA", "A1A 1A1"),  # D is never used
        ("K1A 0B", "CA", "A1A 1A1"),
        ("12345", "GB", "SW1A 1AA"),
        ("SW1A 1CA", "GB", "SW1A 1AA"),  # C is never used in the inward code
        ("SW1A", "GB", "SW1A 1AA"),
        ("1011", "DE", "5 digits"),
        ("101155", "DE", "5 digits"),
        ("X-10115", "DE", "5 digits"),
        ("7500", "FR", "5 digits"),
        ("0123 AB", "NL", "1234 AB"),  # no leading zero
        ("1234 SS", "NL", "1234 AB"),  # SA, SD and SS are never issued
        ("1234", "NL", "1234 AB"),
        ("200", "AU", "4 digits"),
        ("20000", "AU", "4 digits"),
        ("100-001", "JP", "123-4567"),
        ("n/a", "US", "12345 or 12345-6789"),
    ],
)
def test_invalid_codes_for_known_countries_are_dropped_and_flagged(raw, country, expected):
    assert normalize_postal_code(raw, country=country) == Normalized(
        "",
        f"postal code '{raw}' is not a valid {country} postal code (expected {expected})",
        "flag",
    )


def test_a_very_long_value_is_flagged_with_a_short_message():
    assert normalize_postal_code("9" * 500, country="DE") == Normalized(
        "", f"postal code '{'9' * 40}…' is not a valid DE postal code (expected 5 digits)", "flag"
    )


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("  ec1a   1bb ", "IE", "EC1A 1BB"),
        ("d02 x285", "IE", "D02 X285"),
        ("8001", "CH", "8001"),
        ("00-950", "PL", "00-950"),
        ("sw1a 1aa", "", "SW1A 1AA"),  # no country: tidied, not checked
        ("whatever", "XX", "WHATEVER"),
    ],
)
def test_other_countries_are_only_tidied(raw, country, expected):
    assert normalize_postal_code(raw, country=country) == Normalized(expected)


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n", "〒"])
@pytest.mark.parametrize("country", ["US", "JP", ""])
def test_blank_is_empty_without_problem(raw, country):
    assert normalize_postal_code(raw, country=country) == Normalized("")


@given(
    st.one_of(st.none(), st.text()),
    st.one_of(st.text(max_size=3), st.sampled_from(["US", "CA", "GB", "DE", "FR", "NL", "JP"])),
)
def test_any_text_gives_a_normalized_value_and_never_raises(raw, country):
    result = normalize_postal_code(raw, country=country)

    assert isinstance(result, Normalized)
    assert isinstance(result.problem, str)
    assert result.severity in {"", "flag"}
    assert bool(result.problem) == bool(result.severity)
    assert result.value == result.value.upper()
    assert result.value == result.value.strip()
    if result.value:
        assert normalize_postal_code(result.value, country=country) == result
