"""normalize_country: ISO 3166-1 alpha-2 from whatever sources write."""

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadops.leads.normalize import Normalized, normalize_country
from leadops.leads.normalize.country import ALIASES


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # codes
        ("DE", "DE"),
        ("de", "DE"),
        (" gb ", "GB"),
        ("DEU", "DE"),
        ("gbr", "GB"),
        ("276", "DE"),
        ("004", "AF"),
        ("4", "AF"),  # numeric codes lose their leading zeros in spreadsheets
        # English names: short, official and common, folded
        ("Germany", "DE"),
        ("GERMANY", "DE"),
        ("  germany  ", "DE"),
        ("Germany!!!", "DE"),
        ("G e r m a n y", "DE"),
        ("Federal Republic of Germany", "DE"),
        ("United States", "US"),
        ("united-states", "US"),
        ("Korea, Republic of", "KR"),
        ("Republic of Korea", "KR"),
        ("North Korea", "KP"),
        ("Viet Nam", "VN"),
        ("Iran", "IR"),
        ("Cote d'Ivoire", "CI"),
        ("Côte d\u2019Ivoire", "CI"),
        ("St. Lucia", "LC"),
        ("Saint Lucia", "LC"),
        ("Trinidad & Tobago", "TT"),
        ("The Bahamas", "BS"),
        ("Gambia, The", "GM"),
        ("Democratic Republic of the Congo", "CD"),
        ("Congo", "CG"),
        ("Holy See", "VA"),
        ("Falkland Islands", "FK"),
        ("British Virgin Islands", "VG"),
        ("Virgin Islands, U.S.", "VI"),
        ("Türkiye", "TR"),
        ("turkiye", "TR"),
        ("NA", "NA"),  # Namibia; only "N/A" is a placeholder
        ("Åland Islands", "AX"),
        ("aland islands", "AX"),
    ],
)
def test_codes_and_names_give_alpha_2(raw, expected):
    assert normalize_country(raw) == Normalized(expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("Great Britain", "GB"),
        ("England", "GB"),
        ("Scotland", "GB"),
        ("Wales", "GB"),
        ("Northern Ireland", "GB"),
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("US", "US"),
        ("U.S.", "US"),
        ("United States of America", "US"),
        ("America", "US"),
        ("Deutschland", "DE"),
        ("Allemagne", "DE"),
        ("Österreich", "AT"),
        ("Osterreich", "AT"),
        ("Schweiz", "CH"),
        ("Suisse", "CH"),
        ("Svizzera", "CH"),
        ("España", "ES"),
        ("Espana", "ES"),
        ("Italia", "IT"),
        ("Nederland", "NL"),
        ("Holland", "NL"),
        ("The Netherlands", "NL"),
        ("Netherlands, The", "NL"),
        ("België", "BE"),
        ("Belgique", "BE"),
        ("Polska", "PL"),
        ("Sverige", "SE"),
        ("Norge", "NO"),
        ("Danmark", "DK"),
        ("Suomi", "FI"),
        ("Éire", "IE"),
        ("Brasil", "BR"),
        ("México", "MX"),
        ("Nippon", "JP"),
        ("Nihon", "JP"),
        ("日本", "JP"),
        ("中国", "CN"),
        ("Россия", "RU"),
        ("РОССИЯ", "RU"),
        ("Russia", "RU"),
        ("South Korea", "KR"),
        ("Korea", "KR"),
        ("Czechia", "CZ"),
        ("Czech Republic", "CZ"),
        ("UAE", "AE"),
        ("U.A.E.", "AE"),
    ],
)
def test_aliases_give_alpha_2(raw, expected):
    assert normalize_country(raw) == Normalized(expected)


@pytest.mark.parametrize(
    "raw", ["Atlantis", "Narnia", "Europe", "the", "XX", "ZZZ", "999", "123 Main St", "?", "--"]
)
def test_unknown_countries_are_quarantined(raw):
    assert normalize_country(raw) == Normalized("", f"unknown country '{raw}'", "quarantine")


def test_a_very_long_value_is_quarantined_with_a_short_message():
    assert normalize_country("x" * 500) == Normalized(
        "", f"unknown country '{'x' * 40}…'", "quarantine"
    )


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n", "N/A", "n/a", "n.a.", " N / A "])
def test_blank_is_empty_without_problem(raw):
    assert normalize_country(raw) == Normalized("")


@pytest.mark.parametrize("country", list(pycountry.countries), ids=lambda c: c.alpha_2)
def test_every_code_and_name_pycountry_knows_reads_back(country):
    # no name of one country folds to another country's code, and no alias hides a real name
    readings = {
        normalize_country(text).value
        for text in (country.alpha_2, country.alpha_3, country.numeric, country.name)
    }

    assert readings == {country.alpha_2}


def test_every_alias_maps_to_a_real_country():
    assert {normalize_country(code).value for code in ALIASES.values()} == set(ALIASES.values())


@given(st.one_of(st.none(), st.text()))
def test_any_text_gives_a_normalized_value_and_never_raises(raw):
    result = normalize_country(raw)

    assert isinstance(result, Normalized)
    assert isinstance(result.problem, str)
    assert result.severity in {"", "quarantine"}
    assert bool(result.problem) == bool(result.severity)
    if result.value:
        assert len(result.value) == 2
        assert result.value.isupper()
        assert normalize_country(result.value) == result
