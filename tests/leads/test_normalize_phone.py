"""normalize_phone: E.164 or a reason; impossible numbers hold the lead, invalid ones flag it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadops.leads.normalize import Normalized, normalize_phone


def full_width(text):
    """The full-width form of ASCII text, as Japanese and Chinese input methods type it."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(201) 555-0123", "US", "+12015550123"),
        ("201-555-0123", "US", "+12015550123"),
        ("201.555.0123", "US", "+12015550123"),
        ("1-201-555-0123", "US", "+12015550123"),
        ("  +1 201 555 0123  ", None, "+12015550123"),
        ("tel:+1-201-555-0123", None, "+12015550123"),
        ("1-800-FLOWERS", "US", "+18003569377"),
        ("201-555-0123", "us", "+12015550123"),  # region case does not matter
        ("201-555-0123", " US ", "+12015550123"),
        # extensions are dropped: E.164 has no place for them
        ("201 555 0123 ext. 42", "US", "+12015550123"),
        ("201-555-0123 x42", "US", "+12015550123"),
        ("201-555-0123 #42", "US", "+12015550123"),
        ("+49 30 1234567 ext. 12", "DE", "+49301234567"),
        # national formats with the default region
        ("030 1234567", "DE", "+49301234567"),
        ("030/1234567", "DE", "+49301234567"),
        ("+49 (0)30 1234567", "DE", "+49301234567"),
        ("0151 23456789", "DE", "+4915123456789"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("03-1234-5678", "JP", "+81312345678"),
        (full_width("03-1234-5678"), "JP", "+81312345678"),
        ("02 1234 5678", "AU", "+61212345678"),
        ("044 668 18 00", "CH", "+41446681800"),
        ("020 7946 0000", "GB", "+442079460000"),
        # an international number ignores the default region
        ("+44 20 7946 0000", "US", "+442079460000"),
        ("+33 1 23 45 67 89", "DE", "+33123456789"),
        ("+49 30 1234567", "XX", "+49301234567"),
        ("+49 30 1234567", None, "+49301234567"),
        # "00" is the international prefix even where the plan dials something else (US: 011)
        ("0049 30 1234567", "US", "+49301234567"),
        ("0049 30 1234567", "DE", "+49301234567"),
        ("00 44 20 7946 0000", "GB", "+442079460000"),
        ("0049 30 1234567", None, "+49301234567"),
        ("011 49 30 1234567", "US", "+49301234567"),
        ("0011 49 30 1234567", "AU", "+49301234567"),  # AU's own "0011" still wins
    ],
)
def test_valid_numbers_become_e164(raw, region, expected):
    assert normalize_phone(raw, region=region) == Normalized(expected)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+1 (555) 010-0000", "US", "+15550100000"),
        ("555-0123", "US", "+15550123"),
        ("07700 900123", "GB", "+447700900123"),  # Ofcom's drama range is never assigned
    ],
)
def test_possible_but_invalid_numbers_are_kept_and_flagged(raw, region, expected):
    assert normalize_phone(raw, region=region) == Normalized(
        expected, f"phone '{raw}' is possible but not valid", "flag"
    )


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("12", "US"),
        ("0", "DE"),
        ("abc", "US"),
        ("n/a", "DE"),
        ("+", "US"),
        ("-", "US"),
        ("+999 1234567", None),  # no such country code
        ("+49 30 1234567 1234567 1234567", "DE"),
        ("212 555 01239", "US"),
        ("0049", "US"),
    ],
)
def test_impossible_numbers_are_quarantined(raw, region):
    assert normalize_phone(raw, region=region) == Normalized(
        "", f"phone '{raw}' is not a possible number", "quarantine"
    )


@pytest.mark.parametrize("region", [None, "", "XX", "usa"])
def test_a_national_number_without_a_known_region_is_quarantined(region):
    assert normalize_phone("030 1234567", region=region) == Normalized(
        "",
        "phone '030 1234567' has no country code and there is no known default region",
        "quarantine",
    )


def test_a_very_long_string_is_quarantined_with_a_short_message():
    result = normalize_phone("1" * 500, region="US")

    assert result == Normalized("", f"phone '{'1' * 40}…' is not a possible number", "quarantine")


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n"])
@pytest.mark.parametrize("region", [None, "DE"])
def test_blank_is_empty_without_problem(raw, region):
    assert normalize_phone(raw, region=region) == Normalized("")


@given(
    st.one_of(st.none(), st.text()),
    st.one_of(st.none(), st.text(max_size=3), st.sampled_from(["US", "DE", "GB", "JP"])),
)
def test_any_text_gives_a_normalized_value_and_never_raises(raw, region):
    result = normalize_phone(raw, region=region)

    assert isinstance(result, Normalized)
    assert isinstance(result.value, str)
    assert isinstance(result.problem, str)
    assert result.severity in {"", "flag", "quarantine"}
    assert bool(result.problem) == bool(result.severity)
    if result.value:
        assert result.value.startswith("+")
        assert result.value[1:].isdigit()
        assert result.value[1:].isascii()
    if result.severity == "quarantine":
        assert result.value == ""


@given(st.from_regex(r"\+49 ?30 ?\d{7}", fullmatch=True))
def test_e164_output_reads_back_as_itself(raw):
    value = normalize_phone(raw, region=None).value

    assert normalize_phone(value, region="US").value == value
