import pytest
from django.core.exceptions import ImproperlyConfigured

from leadops.settings.env import database_from_url, env_bool, env_str


def test_database_url_with_socket_directory_uses_the_socket_as_host():
    # given a pgserver-style URL naming a Unix socket directory
    url = "postgresql://postgres@/leadops?host=/tmp/runtime-0/abc123"

    # when it is parsed
    database = database_from_url(url)

    # then the socket directory is the host and no option is left over
    assert database["HOST"] == "/tmp/runtime-0/abc123"
    assert database["NAME"] == "leadops"
    assert database["USER"] == "postgres"
    assert database["OPTIONS"] == {}


def test_database_url_with_credentials_port_and_options():
    database = database_from_url(
        "postgres://app%40corp:s3cr%2Ft@db.example:6543/leads?sslmode=require"
    )

    assert (database["USER"], database["PASSWORD"]) == ("app@corp", "s3cr/t")
    assert (database["HOST"], database["PORT"], database["NAME"]) == ("db.example", "6543", "leads")
    assert database["OPTIONS"] == {"sslmode": "require"}


def test_database_url_for_another_engine_is_refused_with_the_reason():
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL is the only supported database"):
        database_from_url("mysql://root@localhost/test")


def test_env_bool_refuses_words_it_does_not_know(monkeypatch):
    monkeypatch.setenv("LEADOPS_FLAG", "maybe")

    with pytest.raises(ImproperlyConfigured, match="LEADOPS_FLAG='maybe' is not a boolean"):
        env_bool("LEADOPS_FLAG", False)


def test_env_secret_file_wins_over_the_plain_variable(monkeypatch, tmp_path):
    # given both a value and a *_FILE secret
    secret = tmp_path / "key"
    secret.write_text("from-file\n")
    monkeypatch.setenv("LEADOPS_TOKEN", "from-env")
    monkeypatch.setenv("LEADOPS_TOKEN_FILE", str(secret))

    # then the file is used, stripped of its newline
    assert env_str("LEADOPS_TOKEN") == "from-file"
