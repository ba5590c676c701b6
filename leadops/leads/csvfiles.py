"""Reading the lists people export from spreadsheets: encodings, delimiters, Excel's quirks.

UTF-8 with or without a byte-order mark, Windows-1252 / Latin-1 (detected by charset-normalizer),
comma, semicolon or tab (csv.Sniffer, or Excel's own `sep=;` first line), quoted fields with
newlines in them. Rows come with their row number as a spreadsheet shows it (the header is row
1), so a results file and a person can point at the same row.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from charset_normalizer import from_bytes

from leadops.leads import normalize
from leadops.leads.fields import MAPPING_TARGETS, UTM_FIELDS

DELIMITERS = ",;\t"
# What a file may set for every row (a list from a trade fair: its campaign and UTMs).
LIST_OPTIONS = ["campaign", *UTM_FIELDS]


class CsvError(ValueError):
    """A file that cannot be read as a list, with what to do about it."""


@dataclass(frozen=True)
class CsvFile:
    encoding: str
    delimiter: str
    headers: list[str]
    text: str

    def rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        """(row number, {header: value}) for every non-empty data row."""
        reader = _reader(self.text, self.delimiter)
        next(reader, None)  # the header
        for number, values in enumerate(reader, start=2):
            if not any(value.strip() for value in values):
                continue
            yield number, dict(zip(self.headers, (v.strip() for v in values), strict=False))


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    encoding = best.encoding if best is not None else "cp1252"
    try:
        return data.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError):
        # Windows-1252 leaves five bytes undefined; Latin-1 reads every byte.
        return data.decode("latin-1"), "latin-1"


def _excel_sep(text: str) -> tuple[str, str | None]:
    """Excel writes `sep=;` as a first line when asked to: honour it and drop the line."""
    first, _, rest = text.partition("\n")
    if first.strip().lower().startswith("sep=") and len(first.strip()) == 5:
        return rest, first.strip()[4]
    return text, None


def _reader(text: str, delimiter: str) -> Any:
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def csv_read(data: bytes, *, max_bytes: int) -> CsvFile:
    """Read an uploaded list; CsvError says clearly what is wrong with it."""
    if len(data) > max_bytes:
        raise CsvError(
            f"The file is {len(data):,} bytes; a list may be at most {max_bytes:,} bytes "
            f"({max_bytes // (1024 * 1024)} MB). Split it into smaller files."
        )
    if not data.strip():
        raise CsvError("The file is empty.")
    text, encoding = _decode(data)
    text, delimiter = _excel_sep(text.replace("\r\n", "\n").replace("\r", "\n"))
    if delimiter is None:
        sample = text[:20_000]
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
        except csv.Error:
            header = sample.partition("\n")[0]
            delimiter = max(DELIMITERS, key=header.count)
    headers = [h.strip() for h in next(_reader(text, delimiter), [])]
    if not any(headers):
        raise CsvError("The first row must name the columns (e.g. email, first_name).")
    blank = [str(i) for i, h in enumerate(headers, start=1) if not h]
    if blank:
        raise CsvError(f"Column {', '.join(blank)} has no name in the first row.")
    twice = sorted({h for h in headers if headers.count(h) > 1})
    if twice:
        raise CsvError(f"Columns named twice: {', '.join(twice)}.")
    return CsvFile(encoding=encoding, delimiter=delimiter, headers=headers, text=text)


def header_field(header: str) -> str | None:
    """The lead field a header already names ("email", "First name" → first_name), if any."""
    name = header.strip().lower().replace(" ", "_").replace("-", "_")
    return name if name in MAPPING_TARGETS else None


def row_fields(
    row: dict[str, str], rules: dict[str, Any], options: dict[str, str]
) -> dict[str, Any]:
    """A row as lead fields: headers that are field names as they are, then the source's
    mapping (header → field, with picklists and full names), then the list-wide options where
    the row gives none."""
    from leadops.leads.mapping import mapping_apply

    fields: dict[str, Any] = {}
    for header, value in row.items():
        target = header_field(header)
        if target and value:
            fields[target] = value
    if "full_name" in fields:
        first, last = normalize.split_full_name(fields.pop("full_name"))
        fields.setdefault("first_name", first)
        fields.setdefault("last_name", last)
    fields.update({k: v for k, v in mapping_apply(rules, row).items() if v})
    campaign = options.get("campaign", "")
    if campaign:
        fields.setdefault("utm_campaign", campaign)
    for name in UTM_FIELDS:
        if options.get(name):
            fields.setdefault(name, options[name])
    return fields


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """A value safe to open in a spreadsheet: one that would start a formula is prefixed with
    a quote, so `=HYPERLINK(...)` stays text (OWASP: CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_write(header: list[str], rows: list[list[Any]], *, neutralise: bool = True) -> bytes:
    """A CSV file in UTF-8 with a byte-order mark (Excel reads it right). A file for people to
    open (results) has every cell neutralised; a kept upload rewritten (erasure) keeps its data
    as sent (`neutralise=False`)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell(value) if neutralise else value for value in row])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")
