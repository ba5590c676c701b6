"""CSV import: real-world files, the preview, the scope rule, nothing twice, results, re-import
of failed rows, retention, erasure and the command."""

import codecs
import csv
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from leadops.core.access import system_context
from leadops.core.errors import ApplicationError
from leadops.core.services import JobScope
from leadops.imports import (
    import_preview,
    import_run,
    import_start,
    import_upload_create,
    imports_expire,
)
from leadops.leads.csvfiles import CsvError, cell, csv_read, csv_write
from leadops.leads.mapping import source_mapping_set
from leadops.leads.models import ImportFile, ImportRun, Lead, Submission
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db

LIST = (
    "email,first_name,last_name,company,country\n"
    "ada@engines.example,Ada,Lovelace,Analytical Engines,DE\n"
    "grace@navy.example,Grace,Hopper,Navy,FR\n"
    ",Nobody,Known,,DE\n"
)


def upload(source, text=LIST, *, scope=None, options=None, encoding="utf-8"):
    with system_context("tests"):
        everything = scope or JobScope(frozenset(_all_markets()), global_rows=True)
        return import_upload_create(
            actor=SYSTEM,
            name="fair.csv",
            data=text.encode(encoding) if isinstance(text, str) else text,
            source=source,
            options=options or {},
            scope=everything,
        )


def _all_markets():
    from leadops.markets.models import Market

    return Market.objects.values_list("id", flat=True)


def run(upload_row, actor=SYSTEM, only=None):
    started = import_start(actor=actor, upload=upload_row, only_rows=only, enqueue=False)
    report = import_run(run_id=started.pk, actor=actor)
    with system_context("tests"):
        return ImportRun.objects.get(pk=started.pk), report


def results(run_row):
    text = bytes(run_row.results).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def counts():
    with system_context("tests"):
        return Lead.objects.count(), Submission.objects.count()


# --- reading real-world files --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "encoding", "delimiter"),
    [
        (codecs.BOM_UTF8 + "email;name\nzoë@x.example;Zoë\n".encode(), "utf-8-sig", ";"),
        ("email,name\nzoë@x.example,Zoë\n".encode(), "utf-8", ","),
        ("email\tname\nzoë@x.example\tZoë Müller\n".encode("cp1252"), None, "\t"),
        ("sep=;\nemail;name\nzoë@x.example;Zoë\n".encode("latin-1"), None, ";"),
    ],
)
def test_encodings_and_delimiters_people_export(data, encoding, delimiter):
    table = csv_read(data, max_bytes=1_000_000)

    [(number, row)] = list(table.rows())
    assert table.delimiter == delimiter
    assert table.headers == ["email", "name"]
    assert row["email"] == "zoë@x.example"
    assert row["name"].startswith("Zoë")
    assert number == 2
    if encoding:
        assert table.encoding == encoding


def test_quoted_newlines_stay_in_their_field_and_rows_keep_their_numbers():
    data = b'email,note\r\na@x.example,"line one\r\nline two"\r\n\r\nb@x.example,plain\r\n'

    rows = list(csv_read(data, max_bytes=10_000).rows())

    assert [n for n, _ in rows] == [2, 4]
    assert rows[0][1]["note"] == "line one\nline two"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"x" * 2_000, "at most 1,000 bytes"),
        (b"   ", "empty"),
        (b"email,email\na,b\n", "named twice: email"),
        (b"email,,name\na,b,c\n", "Column 2 has no name"),
    ],
)
def test_a_file_that_cannot_be_a_list_says_why(data, says):
    with pytest.raises(CsvError, match=says):
        csv_read(data, max_bytes=1_000)


# --- preview and runs -------------------------------------------------------------------------


def test_the_preview_predicts_each_row_and_writes_nothing(table, web, key_all):
    from tests.leads.test_api_ingest import api

    api(key_all).post(
        "/api/v1/leads",
        {"source": "web", "email": "ada@engines.example", "country": "DE"},
        format="json",
    )
    before = counts()
    kept = upload(web)

    rows = import_preview(upload=kept)

    assert [(r.number, r.preview.outcome) for r in rows] == [
        (2, "merged"),
        (3, "created"),
        (4, "rejected"),
    ]
    assert rows[1].preview.lead["email_norm"] == "grace@navy.example"
    assert rows[1].preview.market == "BBB"
    assert counts() == before


def test_a_managers_rows_in_other_markets_are_imported_but_shown_as_accepted(
    table, web, market_a, manager_a
):
    kept = upload(web, scope=JobScope(frozenset({market_a.id})))

    preview = import_preview(upload=kept)
    done, _report = run(kept, actor=manager_a)

    lines = results(done)
    assert preview[1].preview.outcome == "accepted"
    assert preview[1].preview.lead == {}
    assert [(line["row"], line["outcome"], bool(line["lead_id"])) for line in lines] == [
        ("2", "created", True),
        ("3", "accepted", False),
        ("4", "rejected", False),
    ]
    with system_context("tests"):
        assert Lead.objects.filter(email_norm="grace@navy.example").exists()


def test_the_same_file_again_creates_nothing_and_an_edited_copy_only_its_change(table, web):
    first, _ = run(upload(web))
    after_first = counts()

    again, _ = run(upload(web))
    after_again = counts()
    edited, report = run(upload(web, LIST.replace("Navy,FR", "Navy Labs,FR")))

    assert first.counts == {"created": 2, "rejected": 1}
    assert after_again == (after_first[0], after_first[1] + 1)  # only the rejected row again
    assert [line["outcome"] for line in results(again)][:2] == ["created", "created"]
    assert report.counts == {"created": 1, "merged": 1, "rejected": 1}
    assert [line["outcome"] for line in results(edited)] == ["created", "merged", "rejected"]
    assert counts()[0] == after_first[0]  # the edited row merged into its lead


def test_list_wide_campaign_and_utms_reach_every_touch(table, web):
    done, _ = run(upload(web, options={"campaign": "DMEXCO 2026", "utm_source": "fair"}))

    with system_context("tests"):
        lead = Lead.objects.get(email_norm="ada@engines.example")
        touch = lead.touches.get()
    assert (touch.utm_campaign, touch.utm_source) == ("DMEXCO 2026", "fair")
    assert done.counts["created"] == 2


def test_failed_rows_are_imported_again_after_the_mapping_is_fixed(table, web):
    # given a file whose email column the source's mapping does not know yet
    text = "E-Mail Adr.,Land\nmarie@radium.example,FR\nhenri@radium.example,FR\n"
    kept = upload(web, text)
    done, _ = run(kept)
    assert done.failed_rows == [2, 3]

    # when RevOps map the column and import the failed rows again
    source_mapping_set(
        actor=SYSTEM,
        source=web,
        rules={"email": {"path": "E-Mail Adr."}, "country": {"path": "Land"}},
        note="fair lists",
    )
    retried, report = run(kept, only=done.failed_rows)

    # then exactly those rows come in
    assert retried.only_rows == [2, 3]
    assert report.counts == {"created": 2}
    assert retried.failed_rows == []


def test_results_neutralise_what_a_spreadsheet_would_run():
    data = csv_write(["row", "errors"], [[2, '=HYPERLINK("http://x")'], [3, "+1"], [4, "@SUM"]])

    text = data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    assert "\n3,'+1" in text.replace("\r\n", "\n")
    assert cell("-2+3") == "'-2+3"
    assert cell("ok") == "ok"
    assert data.startswith(codecs.BOM_UTF8)


# --- retention and erasure ------------------------------------------------------------------


def test_uploads_and_results_expire_after_the_retention(table, web):
    kept = upload(web)
    done, _ = run(kept)

    forgotten = imports_expire(actor=SYSTEM, now=kept.expires_at + timedelta(seconds=1))

    with system_context("tests"):
        kept.refresh_from_db()
        done.refresh_from_db()
    assert forgotten == 1
    assert (kept.expired, bytes(kept.content), bytes(done.results)) == (True, b"", b"")
    with pytest.raises(ApplicationError, match="expired"):
        import_start(actor=SYSTEM, upload=kept, enqueue=False)
    assert imports_expire(actor=SYSTEM, now=timezone.now() + timedelta(days=400)) == 0


def test_erasing_a_subject_scrubs_their_rows_from_uploads_and_results(table, web):
    text = LIST + "bad@x.example,Bad,Phone,X,DE\n"
    kept = upload(web, text.replace("bad@x.example,Bad,Phone,X,DE", "grace@navy.example,,,,ZZ"))
    done, _ = run(kept)

    call_command("erase_subject", "--email", "grace@navy.example")

    with system_context("tests"):
        kept.refresh_from_db()
        done.refresh_from_db()
    content = bytes(kept.content).decode("utf-8-sig")
    assert "grace@navy.example" not in content
    assert "ada@engines.example" in content
    rows = [n for n, _ in csv_read(bytes(kept.content), max_bytes=10**6).rows()]
    assert rows == [2, 4]  # the others keep their numbers
    from audit.verification import audit_verify_run

    assert audit_verify_run().ok


# --- the command ----------------------------------------------------------------------------


def test_the_command_imports_and_says_how_it_went(table, web, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("email,country\nzoe@x.example,DE\n", encoding="utf-8")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text(LIST, encoding="utf-8")
    out = tmp_path / "results.csv"

    call_command("import_leads", str(good), "--source", "web", verbosity=0)
    with pytest.raises(CommandError) as refused:
        call_command(
            "import_leads", str(mixed), "--source", "web", "--results", str(out), verbosity=0
        )
    with pytest.raises(CommandError) as unknown:
        call_command("import_leads", str(good), "--source", "nope", verbosity=0)
    with pytest.raises(CommandError) as unreadable:
        call_command("import_leads", str(tmp_path / "missing.csv"), "--source", "web")

    assert refused.value.returncode == 1
    assert "row 4" in str(refused.value) or "rows 4" in str(refused.value)
    assert (unknown.value.returncode, unreadable.value.returncode) == (2, 2)
    assert [
        line["outcome"] for line in csv.DictReader(io.StringIO(out.read_text("utf-8-sig")))
    ] == [
        "created",
        "created",
        "rejected",
    ]


def test_a_dry_run_writes_nothing(table, web, tmp_path, capsys):
    listed = tmp_path / "list.csv"
    listed.write_text(LIST, encoding="utf-8")
    before = counts()

    with pytest.raises(CommandError) as would_refuse:
        call_command("import_leads", str(listed), "--source", "web", "--dry-run")

    assert would_refuse.value.returncode == 1
    assert counts() == before
    with system_context("tests"):
        assert not ImportFile.objects.exists()
    assert "dry run: nothing written" in capsys.readouterr().out


def test_a_manager_uploads_previews_and_cannot_remap_and_results_stay_theirs(
    client, table, web, market_a, manager_a, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from leadops.celery import app

    client.force_login(manager_a)
    answer = client.post(
        "/admin/leads/importfile/upload/",
        {"file": SimpleUploadedFile("fair.csv", LIST.encode()), "source": web.pk},
    )
    page = client.get(answer["Location"]).content.decode()
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            client.post(answer["Location"].replace("/change/", "/start/"))
    finally:
        app.conf.task_always_eager = False
    with system_context("tests"):
        done = ImportRun.objects.get()

    assert "In a market outside yours" in page  # the FR row, shown as accepted only
    assert "grace@navy.example" not in page
    assert 'id="save-mapping"' not in page  # only RevOps make mappings
    assert client.get(f"/admin/leads/importfile/run/{done.pk}/results.csv").status_code == 200
    other = manager_a.__class__.objects.create(username="other_manager", is_staff=True)
    client.force_login(other)
    assert client.get(f"/admin/leads/importfile/run/{done.pk}/results.csv").status_code in (
        403,
        404,
    )
