import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadops.core.access import system_context
from leadops.core.errors import ApplicationError
from leadops.markets.market_table import (
    Row,
    TableIndex,
    market_table_draft_create,
    market_table_publish,
    market_table_row_add,
    market_table_row_remove,
    table_index,
    tag_market,
)
from leadops.markets.models import Market, MarketTableVersion
from tests.fixtures import SYSTEM

UNASSIGNED = 99
ROWS = [
    Row(1, "country", "DE", "DE", 10),
    Row(2, "postal", "1", "DE", 11),
    Row(3, "postal", "10", "DE", 12),
    Row(4, "postal", "101", "DE", 13),
    Row(5, "region", "DE-BY", "DE", 14),
    Row(6, "source", "partner-x", "", 15),
    Row(7, "country", "AT", "AT", 16),
    Row(8, "postal", "10", "AT", 17),
]
INDEX = TableIndex(ROWS, unassigned_id=UNASSIGNED)


@pytest.mark.parametrize(
    ("fields", "market", "row"),
    [
        ({"country": "DE"}, 10, 1),
        ({"country": "DE", "postal_code": "20095"}, 10, 1),
        ({"country": "DE", "postal_code": "19000"}, 11, 2),
        ({"country": "DE", "postal_code": "10999"}, 12, 3),
        ({"country": "DE", "postal_code": "10115"}, 13, 4),  # longest prefix wins
        ({"country": "DE", "region": "DE-BY", "postal_code": "10115"}, 14, 5),  # region first
        ({"source": "partner-x", "country": "DE", "region": "DE-BY"}, 15, 6),  # source first
        ({"country": "AT", "postal_code": "1010"}, 17, 8),  # prefixes are per country
        ({"country": "FR", "postal_code": "75001"}, UNASSIGNED, None),
        ({}, UNASSIGNED, None),
    ],
)
def test_precedence_source_region_longest_prefix_country(fields, market, row):
    tag = tag_market(fields, INDEX)

    assert (tag.market_id, tag.row_id) == (market, row)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "source": st.sampled_from(["partner-x", "web", ""]),
            "region": st.sampled_from(["DE-BY", "DE-BE", ""]),
            "country": st.sampled_from(["DE", "AT", "FR", ""]),
            "postal_code": st.text("0123456789 ", max_size=6),
        },
    )
)
def test_tagging_is_deterministic_whatever_the_row_order(fields):
    shuffled = TableIndex(list(reversed(ROWS)), unassigned_id=UNASSIGNED)

    assert tag_market(fields, INDEX) == tag_market(fields, shuffled) == tag_market(fields, INDEX)


@pytest.mark.django_db
class TestPublishing:
    @pytest.fixture
    def draft(self, market_a):
        return market_table_draft_create(actor=SYSTEM, note="first table")

    def _add(self, draft, market, kind, key, country=""):
        with system_context("tests"):
            return market_table_row_add(
                actor=SYSTEM, version=draft, kind=kind, key=key, country=country, market=market
            )

    def test_overlapping_rows_are_refused_naming_both(self, draft, market_a, market_b):
        first = self._add(draft, market_a, "postal", "10", "DE")
        second = self._add(draft, market_b, "postal", "10", "DE")

        with system_context("tests"), pytest.raises(ApplicationError) as refused:
            market_table_publish(actor=SYSTEM, version=draft)

        assert f"row #{first.pk}" in refused.value.message
        assert f"row #{second.pk}" in refused.value.message
        assert "overlap" in refused.value.message
        draft.refresh_from_db()
        assert draft.status == "draft"

    def test_nested_prefixes_and_same_prefix_in_two_countries_are_fine(
        self, draft, market_a, market_b
    ):
        self._add(draft, market_a, "postal", "10", "DE")
        self._add(draft, market_b, "postal", "101", "DE")
        self._add(draft, market_b, "postal", "10", "AT")

        with system_context("tests"):
            published = market_table_publish(actor=SYSTEM, version=draft)

        assert published.status == "published"

    @pytest.mark.parametrize(
        ("kind", "key", "country", "problem"),
        [
            ("postal", "10", "", "must name its country"),
            ("region", "FR-IDF", "DE", "is not in country DE"),
        ],
    )
    def test_bad_rows_are_refused(self, draft, market_a, kind, key, country, problem):
        self._add(draft, market_a, kind, key, country)

        with system_context("tests"), pytest.raises(ApplicationError, match=problem):
            market_table_publish(actor=SYSTEM, version=draft)

    def test_publishing_retires_the_previous_version_and_published_is_frozen(self, draft, market_a):
        self._add(draft, market_a, "country", "DE", "DE")
        with system_context("tests"):
            market_table_publish(actor=SYSTEM, version=draft)
            second = market_table_draft_create(actor=SYSTEM, note="second")
            market_table_publish(actor=SYSTEM, version=second)
            draft.refresh_from_db()
            copied = list(second.rows.values_list("key", flat=True))
            row = second.rows.get()
            with pytest.raises(ApplicationError, match="change a draft instead"):
                market_table_row_remove(actor=SYSTEM, row=row)

        assert draft.status == "retired"
        assert copied == ["DE"]
        assert MarketTableVersion.objects.filter(status="published").count() == 1

    def test_index_from_the_database_tags_like_the_rows_say(self, draft, market_a, market_b):
        self._add(draft, market_a, "country", "DE", "DE")
        self._add(draft, market_b, "postal", "8", "DE")
        with system_context("tests"):
            published = market_table_publish(actor=SYSTEM, version=draft)
            index = table_index(published)
            unassigned = Market.objects.get(code="UNASSIGNED")

        assert tag_market({"country": "DE", "postal_code": "80331"}, index).market_id == market_b.id
        assert tag_market({"country": "DE", "postal_code": "10115"}, index).market_id == market_a.id
        assert tag_market({"country": "US"}, index).market_id == unassigned.id
