"""normalize_name and split_full_name: tidy spacing; fix casing only where it was lost."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadops.leads.normalize import normalize_name, split_full_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  john   smith ", "John Smith"),
        ("JOHN SMITH", "John Smith"),
        ("john\tsmith\n", "John Smith"),
        ("john\u00a0smith", "John Smith"),  # no-break space
        ("\u200bjohn smith\ufeff", "John Smith"),  # zero-width space, byte-order mark
        ("john\x00smith", "John Smith"),  # control characters read as spaces
        ("ludwig van beethoven", "Ludwig van Beethoven"),
        ("VAN DER BERG", "Van der Berg"),  # a particle that starts the name is capitalised
        ("leonardo da vinci", "Leonardo da Vinci"),
        ("maría josé de la cruz", "María José de la Cruz"),
        ("ALEXANDER VON HUMBOLDT", "Alexander von Humboldt"),
        ("o'brien", "O'Brien"),
        ("SEAN O\u2019NEILL", "Sean O\u2019Neill"),  # typographic apostrophe
        ("d'angelo", "D'Angelo"),
        ("anne-marie dupont", "Anne-Marie Dupont"),
        ("JEAN-LUC PICARD", "Jean-Luc Picard"),
        ("j. r. r. tolkien", "J. R. R. Tolkien"),
        ("j.r.r. tolkien", "J.R.R. Tolkien"),
        ("john smith iii", "John Smith III"),
        ("ÉMILE ZOLA", "Émile Zola"),
        ("e\u0301mile zola", "Émile Zola"),  # decomposed é becomes one code point (NFC)
        ("ΟΔΥΣΣΕΑΣ", "Οδυσσεας"),  # Greek final sigma survives the lower-casing
        ("mcdonald", "Mcdonald"),  # we do not invent the inner capital
        # the person's own mixed casing is kept
        ("McDonald", "McDonald"),
        ("DeShawn", "DeShawn"),
        ("van der Berg", "van der Berg"),
        ("JOHN smith", "JOHN smith"),
        ("ronald MacDonald", "ronald MacDonald"),
        ("  McDonald  \t O'Neil ", "McDonald O'Neil"),
        # no cased letters or a single character: nothing to fix
        ("李小龙", "李小龙"),
        ("محمد علي", "محمد علي"),
        ("j", "j"),
        ("J", "J"),
        ("42", "42"),
    ],
)
def test_names_are_tidied(raw, expected):
    assert normalize_name(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "   ", "\u200b", "\t\n"])
def test_blank_names_are_empty(raw):
    assert normalize_name(raw) == ""


def test_a_very_long_name_is_tidied_not_cut():
    assert normalize_name("ANNA " * 1000) == " ".join(["Anna"] * 1000)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("John Smith", ("John", "Smith")),
        ("  JOHN   SMITH  ", ("John", "Smith")),
        ("Mary Ann Smith", ("Mary Ann", "Smith")),
        ("Ludwig van Beethoven", ("Ludwig", "van Beethoven")),
        ("maria de la cruz", ("Maria", "de la Cruz")),
        ("Vincent van der Berg", ("Vincent", "van der Berg")),
        ("John Smith Jr.", ("John", "Smith Jr.")),
        ("John Smith III", ("John", "Smith III")),
        ("John Smith, Jr.", ("John", "Smith Jr.")),
        # the "Last, First" form
        ("Smith, John", ("John", "Smith")),
        ("SMITH, JOHN", ("John", "Smith")),
        ("Smith,John", ("John", "Smith")),
        ("Smith, Mary Ann", ("Mary Ann", "Smith")),
        ("van Beethoven, Ludwig", ("Ludwig", "van Beethoven")),
        ("Smith, John, Jr.", ("John", "Smith Jr.")),
        ("Smith,", ("Smith", "")),
        (", John", ("John", "")),
        # one word is a first name
        ("Cher", ("Cher", "")),
        ("  madonna ", ("Madonna", "")),
        ("李小龙", ("李小龙", "")),
        # a particle at the end is a last name of its own
        ("John De", ("John", "De")),
        (None, ("", "")),
        ("", ("", "")),
        ("   ", ("", "")),
        (",", ("", "")),
    ],
)
def test_full_names_are_split(raw, expected):
    assert split_full_name(raw) == expected


@given(st.one_of(st.none(), st.text()))
def test_normalize_name_never_raises_and_is_idempotent(raw):
    name = normalize_name(raw)

    assert isinstance(name, str)
    assert name == name.strip()
    assert "  " not in name
    assert unicodedata.is_normalized("NFC", name)
    assert normalize_name(name) == name


@given(st.one_of(st.none(), st.text()))
def test_split_full_name_never_raises_and_returns_two_strings(raw):
    first, last = split_full_name(raw)

    assert isinstance(first, str)
    assert isinstance(last, str)
    if last:  # a last name never comes without a first name
        assert first
