"""The door's quick check gives exactly what DRF's validation gives whenever it answers, and it
answers for the leads people really send (the point of having it)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadops.intake import LeadInput
from leadops.leads.fields import INPUT_LENGTHS
from leadops.leads.models import Source

WEB = Source(id=1, slug="web", name="Web", is_active=True)
NAMES = [*INPUT_LENGTHS, "source", "attributes", "occurred_at", "surprise"]

text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.sampled_from(" \t\n\x00\ud800aé"), max_size=5),
    st.builds(lambda n: "x" * n, st.integers(min_value=95, max_value=300)),
)
scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
value = st.one_of(scalar, st.lists(scalar, max_size=2), st.dictionaries(text, scalar, max_size=3))
payload = st.dictionaries(st.sampled_from(NAMES), value, max_size=8).map(
    lambda d: {**d, "source": d.get("source", "web"), "email": d.get("email", "a@b.example")}
)
source_values = st.sampled_from(["web", " web ", "nope", "", 5, None])


def checker():
    return LeadInput(context={"sources": {"web": WEB}})


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(payload, source_values, st.booleans())
def test_whenever_the_quick_check_answers_drf_agrees(data, source, keep_source):
    # given any payload (a source as sent, or as drawn)
    if not keep_source:
        data = {**data, "source": source}
    lead = checker()

    # when the quick check answers
    quick = lead.quick(data)

    # then DRF validates the same payload to the very same fields
    if quick is not None:
        assert quick == dict(lead.run_validation(data))


def test_an_ordinary_lead_takes_the_quick_path():
    # given a lead as a website or a partner sends it
    data = {
        "source": "web",
        "email": " Ada@Example.com ",
        "phone": "+49 30 1234567",
        "first_name": "Ada",
        "country": "DE",
        "utm_source": None,
        "attributes": {"plan": "pro", "seats": 5},
        "occurred_at": "2026-11-30T10:00:00Z",
    }

    # when it is checked quickly
    quick = checker().quick(data)

    # then it is answered without DRF, stripped and with its source resolved
    assert quick is not None
    assert quick["email"] == "Ada@Example.com"
    assert quick["source"] is WEB
    assert quick["attributes"] == {"plan": "pro", "seats": 5}
    assert quick == dict(checker().run_validation(data))


def test_anything_doubtful_is_left_to_drf_for_its_messages():
    lead = checker()
    assert lead.quick({"source": "web", "email": "a@b.example", "phone": 123}) is None
    assert lead.quick({"source": "web", "email": "x" * 300}) is None
    assert lead.quick({"source": "nope", "email": "a@b.example"}) is None
    assert lead.quick({"source": "web", "email": " ", "phone": None}) is None
    assert lead.quick({"source": "web", "email": "a@b.example", "attributes": {"a": [1]}}) is None
    assert lead.quick(["not", "a", "dict"]) is None
