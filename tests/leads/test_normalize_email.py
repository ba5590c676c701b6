"""normalize_email: one spelling per mailbox; anything that is not one plain address is held."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadops.leads.normalize import Normalized, normalize_email


def full_width(text):
    """The full-width form of ASCII text, as Japanese and Chinese input methods type it."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("john@example.com", "john@example.com"),
        ("  John.Doe@Example.COM \n", "john.doe@example.com"),
        ("<john@example.com>", "john@example.com"),
        ("mailto:John@Example.com", "john@example.com"),
        ("MAILTO:john@example.com?subject=Hello", "john@example.com"),
        ("<mailto:john@example.com>", "john@example.com"),
        (" < john@example.com > ", "john@example.com"),
        # plus-tags and Gmail dots are kept: dedupe must not merge distinct mailboxes
        ("j.o.h.n+leads@gmail.com", "j.o.h.n+leads@gmail.com"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("a!#$%&'*+/=?^_`{|}~-z@example.com", "a!#$%&'*+/=?^_`{|}~-z@example.com"),
        ("john@mail.example.co.uk", "john@mail.example.co.uk"),
        ("john@sub-domain.example.com", "john@sub-domain.example.com"),
        # international domains become punycode; local parts keep their letters, lowercased
        ("info@münchen.de", "info@xn--mnchen-3ya.de"),
        ("info@MÜNCHEN.DE", "info@xn--mnchen-3ya.de"),
        ("info@bücher.example", "info@xn--bcher-kva.example"),
        ("kontakt@straße.de", "kontakt@xn--strae-oqa.de"),  # IDNA 2008: ß is kept, not "ss"
        ("info@例え。テスト", "info@xn--r8jz45g.xn--zckzah"),
        ("info@" + full_width("EXAMPLE.COM"), "info@example.com"),
        ("JÜRGEN@example.de", "jürgen@example.de"),
        ("Jürgen@example.de", "jürgen@example.de"),  # composed and decomposed ü agree
        ("info@xn--mnchen-3ya.de", "info@xn--mnchen-3ya.de"),
        ("1234@123.example", "1234@123.example"),
    ],
)
def test_valid_addresses_are_normalized(raw, expected):
    assert normalize_email(raw) == Normalized(expected)


@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n", "<>", "mailto:", "<mailto:>"])
def test_blank_is_empty_without_problem(raw):
    assert normalize_email(raw) == Normalized("")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("john.example.com", "email 'john.example.com' has no '@'"),
        ("john@@example.com", "email 'john@@example.com' has more than one '@'"),
        ("a@b@example.com", "email 'a@b@example.com' has more than one '@'"),
        ("@example.com", "email '@example.com' has nothing before the '@'"),
        ("john@", "email 'john@' has nothing after the '@'"),
        ("@", "email '@' has nothing before the '@'"),
        ("john@localhost", "email 'john@localhost' has no dot in its domain"),
        ("john doe@example.com", "email 'john doe@example.com' contains spaces"),
        ("John Doe <john@example.com>", "email 'John Doe <john@example.com>' contains spaces"),
        ("john@exam ple.com", "email 'john@exam ple.com' contains spaces"),
        ("john\u00a0@example.com", "email 'john\\xa0@example.com' contains spaces"),
        (".john@example.com", "email '.john@example.com' has an invalid part before the '@'"),
        ("john.@example.com", "email 'john.@example.com' has an invalid part before the '@'"),
        ("jo..hn@example.com", "email 'jo..hn@example.com' has an invalid part before the '@'"),
        ('"john"@example.com', "email '\"john\"@example.com' has an invalid part before the '@'"),
        ("jo(hn)@example.com", "email 'jo(hn)@example.com' has an invalid part before the '@'"),
        ("john@example..com", "email 'john@example..com' has an invalid domain"),
        ("john@.example.com", "email 'john@.example.com' has an invalid domain"),
        ("john@example.com.", "email 'john@example.com.' has an invalid domain"),
        ("john@-example.com", "email 'john@-example.com' has an invalid domain"),
        ("john@example-.com", "email 'john@example-.com' has an invalid domain"),
        ("john@exa_mple.com", "email 'john@exa_mple.com' has an invalid domain"),
        ("john@192.168.0.1", "email 'john@192.168.0.1' has an invalid domain"),
        ("john@[192.168.0.1]", "email 'john@[192.168.0.1]' has an invalid domain"),
        ("john@☃.net", "email 'john@☃.net' has an invalid domain"),
        (
            "john@example.com,jane@example.com",
            "email 'john@example.com,jane@example.com' has more than one '@'",
        ),
    ],
)
def test_unusable_addresses_are_quarantined(raw, problem):
    assert normalize_email(raw) == Normalized("", problem, "quarantine")


def test_overlong_local_part_is_rejected_and_the_problem_is_cut_short():
    # given a 65-character local part (the limit is 64)
    raw = "x" * 65 + "@example.com"

    # when
    result = normalize_email(raw)

    # then the lead is held, and the message quotes only the start of the value
    assert result == Normalized(
        "", f"email '{'x' * 40}…' has an invalid part before the '@'", "quarantine"
    )


def test_overlong_domain_label_is_rejected():
    assert normalize_email("john@" + "a" * 64 + ".com").severity == "quarantine"


def test_overlong_address_is_rejected():
    # given labels that are each fine but add up past 254 characters
    domain = ".".join(["a" * 60] * 4) + ".com"

    assert normalize_email("x" * 10 + "@" + domain) == Normalized(
        "", f"email '{'x' * 10}@{'a' * 29}…' is too long", "quarantine"
    )


def test_longest_allowed_local_part_is_accepted():
    assert normalize_email("x" * 64 + "@example.com").value == "x" * 64 + "@example.com"


@given(st.one_of(st.none(), st.text()))
def test_any_text_gives_a_normalized_value_and_never_raises(raw):
    result = normalize_email(raw)

    assert isinstance(result, Normalized)
    assert isinstance(result.value, str)
    assert isinstance(result.problem, str)
    assert result.severity in {"", "quarantine"}
    assert bool(result.problem) == bool(result.severity)
    assert not (result.value and result.problem)
    if result.value:
        assert result.value.count("@") == 1
        assert result.value.rpartition("@")[2].isascii()
        assert normalize_email(result.value) == result  # normalizing twice changes nothing
