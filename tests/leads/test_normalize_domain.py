"""company_domain and is_free_mail: one key per organisation, never a free-mail provider."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadops.leads.normalize import company_domain, is_free_mail

FREEMAIL_FILE = Path(__file__).parents[2] / "leadops/leads/normalize/freemail_domains.txt"


@pytest.mark.parametrize(
    ("website", "expected"),
    [
        ("acme.com", "acme.com"),
        ("https://www.Acme.com/about?x=1#team", "acme.com"),
        ("http://acme.com", "acme.com"),
        ("HTTPS://WWW.ACME.COM", "acme.com"),
        ("  www.acme.com/  ", "acme.com"),
        ("http://user:secret@shop.acme.co.uk:8080/path", "shop.acme.co.uk"),
        ("acme.com:443", "acme.com"),
        ("//cdn.acme.io/x", "cdn.acme.io"),
        ("ftp://files.acme.org", "files.acme.org"),
        ("acme.com?ref=ad", "acme.com"),
        ("acme.com#top", "acme.com"),
        ("acme.com\\path", "acme.com"),
        ("WWW.ACME.COM.", "acme.com"),  # the root dot of a fully qualified name
        ("www.münchen.de", "xn--mnchen-3ya.de"),
        ("https://bücher.example/katalog", "xn--bcher-kva.example"),
        ("xn--mnchen-3ya.de", "xn--mnchen-3ya.de"),
        ("www2.acme.com", "www2.acme.com"),  # only "www." is boilerplate
        ("www.com", "www.com"),  # nothing left to strip to
    ],
)
def test_the_website_gives_the_domain(website, expected):
    assert company_domain(website=website, email="someone@other.example") == expected


@pytest.mark.parametrize(
    "website",
    [
        None,
        "",
        "   ",
        "n/a",
        "none",
        "-",
        "Acme Inc",
        "localhost",
        "http://192.168.0.1/admin",
        "http://[::1]:8080/",
        "http://exa mple.com",
        "http://-acme.com",
        "gmail.com",  # a mistyped e-mail field, not Google
        "https://www.hotmail.co.uk",
    ],
)
def test_an_unusable_website_falls_back_to_the_email(website):
    assert company_domain(website=website, email="Jane@Acme.COM") == "acme.com"


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("jane@acme.com", "acme.com"),
        ("  <Jane.Doe@Sales.ACME.com>  ", "sales.acme.com"),
        ("mailto:jane@acme.de", "acme.de"),
        ("info@münchen.de", "xn--mnchen-3ya.de"),
        ("jane@gmail.com", ""),
        ("JANE@GOOGLEMAIL.COM", ""),
        ("jane@yahoo.co.uk", ""),
        ("jane@web.de", ""),
        ("jane@qq.com", ""),
        ("jane@proton.me", ""),
        ("jane@icloud.com", ""),
        ("not an email", ""),
        ("jane@localhost", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_without_a_website_the_email_domain_is_used_unless_free_mail(email, expected):
    assert company_domain(website=None, email=email) == expected


@pytest.mark.parametrize(
    "domain",
    [
        "gmail.com",
        "GMAIL.COM",
        " gmail.com ",
        "gmail.com.",
        "googlemail.com",
        "yahoo.com",
        "yahoo.de",
        "yahoo.co.jp",
        "hotmail.com",
        "hotmail.fr",
        "outlook.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "t-online.de",
        "mail.ru",
        "yandex.ru",
        "qq.com",
        "163.com",
        "protonmail.com",
        "proton.me",
    ],
)
def test_free_mail_domains_are_known(domain):
    assert is_free_mail(domain)


@pytest.mark.parametrize(
    "domain", ["acme.com", "google.com", "microsoft.com", "mail.gmail.com", "", "gmail"]
)
def test_company_domains_are_not_free_mail(domain):
    assert not is_free_mail(domain)


def test_the_free_mail_list_is_clean_and_large_enough():
    # given the maintained list
    lines = FREEMAIL_FILE.read_text(encoding="utf-8").splitlines()
    domains = [line for line in lines if line.strip() and not line.startswith("#")]

    # then it names its source, and every entry is one lowercase domain, listed once
    assert lines[0].startswith("#")
    assert any(line.startswith("# Source: ") for line in lines)
    assert len(domains) >= 150
    assert len(set(domains)) == len(domains)
    assert all(d == d.strip().lower() and " " not in d and "." in d for d in domains)


@given(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()))
def test_any_text_gives_a_string_and_never_raises(website, email):
    domain = company_domain(website=website, email=email)

    assert isinstance(domain, str)
    assert domain == domain.lower()
    assert domain.isascii()
    assert not domain.startswith("www.") or domain.count(".") == 1
    assert not is_free_mail(domain)


@given(st.text())
def test_is_free_mail_never_raises(domain):
    assert isinstance(is_free_mail(domain), bool)
