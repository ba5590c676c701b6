import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.verifier import CanonicalizationError, _write, canonicalize, verify_golden

GOLDEN = json.loads(
    (Path(__file__).resolve().parents[2] / "audit" / "golden_vectors.json").read_text()
)


@pytest.mark.parametrize("case", GOLDEN["canonical"], ids=lambda case: case["name"])
def test_rfc8785_vectors(case):
    assert canonicalize(case["input"]).decode("utf-8") == case["output"]


def test_all_golden_vectors_hold():
    assert verify_golden(GOLDEN) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"score": 0.5}, r"\$\.score: floats are not allowed"),
        ([2**53], r"\$\[0\]: integer 9007199254740992 is beyond"),
        ({"n": -(2**53)}, r"\$\.n: integer -9007199254740992 is beyond"),
        ({1: "x"}, r"object key 1 is not a string"),
        ({"s": "\ud800"}, r"\$\.s: lone surrogate"),
        ({"when": object()}, r"object has no canonical form"),
    ],
)
def test_values_without_a_canonical_form_are_refused_with_their_path(value, message):
    with pytest.raises(CanonicalizationError, match=message):
        canonicalize(value)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_canonical_form_parses_back_to_the_same_value(value):
    assert json.loads(canonicalize(value)) == value


@given(st.dictionaries(st.text(), st.integers(min_value=0, max_value=9), max_size=8))
def test_key_order_does_not_change_the_bytes(mapping):
    reversed_mapping = dict(reversed(list(mapping.items())))

    assert canonicalize(mapping) == canonicalize(reversed_mapping)


def _written(value):
    out: list[str] = []
    _write(value, "$", out)
    return "".join(out).encode("utf-8")


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
        | st.text()
        | st.sampled_from(['\x00\x1f\x7f"\\', "\u2028é😀", "\U0001f600", "ﬀ"]),
        lambda children: (
            st.lists(children)
            | st.lists(children).map(tuple)
            | st.dictionaries(st.text(), children)
        ),
        max_leaves=25,
    )
)
def test_the_fast_path_writes_the_same_bytes_as_the_reference_writer(value):
    # Given any value audit bodies may hold (keys above U+FFFF, control characters, tuples)
    # When it is canonicalized (the C encoder whenever `_plain` admits it)
    # Then the bytes are those of the reference writer the golden vectors pin
    assert canonicalize(value) == _written(value)
