"""The one way every list endpoint pages: a keyset cursor, oldest first, with an overlap window.

Rows come in `(<key>, id)` order. A full page carries `next`, which continues exactly after its
last row. A page that is not full means the caller has caught up: it carries `resume` instead, a
cursor set `OVERLAP` before the newest row seen, because a row committed late (its transaction
started earlier) can carry a key older than rows already read. A client that polls with `resume`
sees such rows and drops repeats by id. No COUNT(*), and the same cost on page 1 and page 1,000.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Model, Q, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework import exceptions, serializers

OVERLAP = timedelta(seconds=5)
PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


class PageQuery(serializers.Serializer):
    """The paging parameters every list endpoint takes (besides its own filters)."""

    cursor = serializers.CharField(
        required=False,
        help_text="`next` or `resume` from the previous page; absent: from the oldest row.",
    )
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_PAGE_SIZE, default=PAGE_SIZE
    )


@dataclass(frozen=True)
class Page:
    rows: Sequence[Any]
    next: str | None
    resume: str | None

    def body(self, results: Any) -> dict[str, Any]:
        return {"results": results, "next": self.next, "resume": self.resume}


class KeysetPagination:
    """Pages a queryset by `(key, id)`, where `key` is a datetime column (e.g. `updated_at`)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def encode(self, moment: datetime, row_id: int) -> str:
        return base64.urlsafe_b64encode(f"{moment.isoformat()}|{row_id}".encode()).decode()

    def decode(self, cursor: str) -> tuple[datetime, int]:
        try:
            text = base64.urlsafe_b64decode(cursor.encode()).decode()
            when, _, row_id = text.partition("|")
            moment = parse_datetime(when)
            if moment is None or moment.tzinfo is None:
                raise ValueError(when)
            return moment, int(row_id)
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ValidationError(
                {"cursor": ["Not a cursor this API gave out."]}
            ) from exc

    def paginate(self, queryset: QuerySet[Any], *, cursor: str | None, page_size: int) -> Page:
        if cursor:
            moment, row_id = self.decode(cursor)
            queryset = queryset.filter(
                Q(**{f"{self.key}__gt": moment}) | Q(**{self.key: moment, "id__gt": row_id})
            )
        rows: list[Model] = list(queryset.order_by(self.key, "id")[:page_size])
        if len(rows) == page_size:
            last = rows[-1]
            return Page(rows, next=self.encode(getattr(last, self.key), last.pk), resume=None)
        if rows:
            newest = getattr(rows[-1], self.key)
            return Page(rows, next=None, resume=self.encode(newest - OVERLAP, 0))
        return Page(rows, next=None, resume=cursor or None)


def page_serializer(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """The documented shape of a page of `item`s (a named component in the OpenAPI schema)."""
    return type(
        name,
        (serializers.Serializer,),
        {
            "results": item(many=True),
            "next": serializers.CharField(
                allow_null=True, help_text="Cursor for the next full page; null when caught up."
            ),
            "resume": serializers.CharField(
                allow_null=True,
                help_text="When caught up: the cursor to poll with later (it overlaps the last "
                f"{OVERLAP.seconds} seconds; drop repeats by id).",
            ),
        },
    )
