"""normalize_region: ISO 3166-2 codes from codes or names, within the lead's country."""

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadops.leads.normalize import Normalized, normalize_region


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        # codes, with or without the country prefix
        ("NY", "US", "US-NY"),
        ("ny", "US", "US-NY"),
        ("US-NY", "US", "US-NY"),
        ("us-ny", "US", "US-NY"),
        ("US NY", "US", "US-NY"),
        ("N.Y.", "US", "US-NY"),
        (" tx ", "US", "US-TX"),
        ("DC", "US", "US-DC"),
        ("BY", "DE", "DE-BY"),
        ("NSW", "AU", "AU-NSW"),
        ("on", "CA", "CA-ON"),
        ("ZH", "CH", "CH-ZH"),
        ("13", "JP", "JP-13"),
        ("ENG", "GB", "GB-ENG"),
        ("GB-CYM", "GB", "GB-WLS"),  # the Welsh-language code pycountry gives in brackets
        # names, folded
        ("New York", "US", "US-NY"),
        ("NEW YORK", "US", "US-NY"),
        ("new-york", "US", "US-NY"),
        ("Newyork", "US", "US-NY"),
        ("Texas", "US", "US-TX"),
        ("Bayern", "DE", "DE-BY"),
        ("Baden-Württemberg", "DE", "DE-BW"),
        ("baden wurttemberg", "DE", "DE-BW"),
        ("Thüringen", "DE", "DE-TH"),
        ("Nordrhein Westfalen", "DE", "DE-NW"),
        ("New South Wales", "AU", "AU-NSW"),
        ("Ontario", "CA", "CA-ON"),
        ("Québec", "CA", "CA-QC"),
        ("Quebec", "CA", "CA-QC"),
        ("England", "GB", "GB-ENG"),
        ("Scotland", "GB", "GB-SCT"),
        ("Wales", "GB", "GB-WLS"),
        ("Cymru", "GB", "GB-WLS"),
        ("Edinburgh", "GB", "GB-EDH"),
        ("City of Edinburgh", "GB", "GB-EDH"),
        ("Zürich", "CH", "CH-ZH"),
        ("Tokyo", "JP", "JP-13"),
        ("Île-de-France", "FR", "FR-IDF"),
        ("Cataluña", "ES", "ES-CT"),
        ("Catalunya", "ES", "ES-CT"),
        ("Región de Murcia", "ES", "ES-MC"),
        # colliding names: the top-level subdivision wins over the province
        ("Murcia", "ES", "ES-MC"),
        ("Madrid", "ES", "ES-MD"),
        ("Illes Balears", "ES", "ES-IB"),
        # the country may come in any case
        ("NY", "us", "US-NY"),
        ("NY", " US ", "US-NY"),
    ],
)
def test_codes_and_names_give_iso_3166_2(raw, country, expected):
    assert normalize_region(raw, country=country) == Normalized(expected)


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("Atlantis", "US"),
        ("XX", "US"),
        ("CA-ON", "US"),  # another country's code
        ("Ontario", "US"),
        ("New York", "CA"),
        ("Bavaria", "DE"),  # pycountry knows only "Bayern"
        ("NRW", "DE"),
        ("Catalonia", "ES"),
        ("??", "GB"),
    ],
)
def test_unknown_regions_are_flagged(raw, country):
    assert normalize_region(raw, country=country) == Normalized(
        "", f"unknown region '{raw}' in {country}", "flag"
    )


def test_a_very_long_value_is_flagged_with_a_short_message():
    assert normalize_region("x" * 500, country="US") == Normalized(
        "", f"unknown region '{'x' * 40}…' in US", "flag"
    )


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("Hong Kong Island", "HK"),  # HK has no subdivisions in pycountry
        ("anything", "GI"),
        ("NY", ""),  # no country: nothing to look in
        ("NY", "XX"),
        ("NY", "Germany"),  # a name is not a code
    ],
)
def test_countries_without_subdivisions_give_empty_without_problem(raw, country):
    assert normalize_region(raw, country=country) == Normalized("")


@pytest.mark.parametrize("country", ["US", "DE", "GB", "ES", "FR", "IT", "JP", "CA", "AU", "CH"])
def test_every_code_reads_back_with_and_without_its_prefix(country):
    for sub in pycountry.subdivisions.get(country_code=country):
        suffix = sub.code.partition("-")[2]

        assert normalize_region(sub.code, country=country).value == sub.code
        assert normalize_region(suffix.lower(), country=country).value == sub.code


@pytest.mark.parametrize("raw", [None, "", "   ", "\t"])
def test_blank_is_empty_without_problem(raw):
    assert normalize_region(raw, country="US") == Normalized("")


@given(
    st.one_of(st.none(), st.text()),
    st.one_of(st.text(max_size=3), st.sampled_from(["US", "DE", "GB", "ES", "FR", "JP"])),
)
def test_any_text_gives_a_normalized_value_and_never_raises(raw, country):
    result = normalize_region(raw, country=country)

    assert isinstance(result, Normalized)
    assert isinstance(result.problem, str)
    assert result.severity in {"", "flag"}
    assert bool(result.problem) == bool(result.severity)
    if result.value:
        assert result.value.startswith(country.strip().upper() + "-")
        assert normalize_region(result.value, country=country) == result
