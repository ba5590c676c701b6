"""The API error format of DESIGN.md, through DRF's real request pipeline."""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from leadops.core.errors import ApplicationError

# Throttling state lives in the shared cache, a database table here.
pytestmark = pytest.mark.django_db


class _LeadInput(serializers.Serializer):
    email = serializers.EmailField()
    market = serializers.SlugField()


class _RaisingApi(APIView):
    permission_classes = [AllowAny]
    to_raise: Exception | None = None

    def post(self, request: Request) -> Response:
        if self.to_raise is not None:
            raise self.to_raise
        _LeadInput(data=request.data).is_valid(raise_exception=True)
        return Response({"ok": True})


def _post(data=None, to_raise=None):
    view = _RaisingApi.as_view(to_raise=to_raise)
    return view(APIRequestFactory().post("/x", data or {}, format="json"))


def test_invalid_input_gives_400_with_messages_per_field():
    response = _post({"email": "not-an-email"})

    assert response.status_code == 400
    assert set(response.data) == {"errors"}
    assert response.data["errors"]["email"] == ["Enter a valid email address."]
    assert response.data["errors"]["market"] == ["This field is required."]


def test_throttled_keeps_retry_after_header_and_uses_detail():
    response = _post(to_raise=exceptions.Throttled(wait=42))

    assert response.status_code == 429
    assert response["Retry-After"] == "42"
    assert response.data["code"] == "throttled"
    assert "42 seconds" in response.data["detail"]


def test_unauthenticated_keeps_www_authenticate_when_drf_sets_it():
    response = _post(to_raise=exceptions.AuthenticationFailed("Invalid token."))

    assert response.status_code in (401, 403)
    assert response.data == {"detail": "Invalid token.", "code": "authentication_failed"}


def test_django_validation_error_becomes_field_errors():
    error = DjangoValidationError({"country": ["Unknown country 'Atlantis'."]})

    response = _post(to_raise=error)

    assert response.status_code == 400
    assert response.data == {"errors": {"country": ["Unknown country 'Atlantis'."]}}


def test_non_field_validation_error_is_filed_under_non_field_errors():
    response = _post(to_raise=exceptions.ValidationError("Give email or phone."))

    assert response.data == {"errors": {"non_field_errors": ["Give email or phone."]}}


def test_domain_error_is_409_with_its_code_and_extra_fields():
    error = ApplicationError(
        "Transition not allowed.", code="invalid_transition", extra={"allowed": ["working"]}
    )

    response = _post(to_raise=error)

    assert response.status_code == 409
    assert response.data == {
        "detail": "Transition not allowed.",
        "code": "invalid_transition",
        "allowed": ["working"],
    }


def test_django_404_uses_detail():
    response = _post(to_raise=Http404("no such lead"))

    assert response.status_code == 404
    assert response.data["code"] == "not_found"


@pytest.mark.parametrize("to_raise", [KeyError("boom"), RuntimeError("boom")])
def test_unexpected_errors_are_left_to_django(to_raise):
    # A programming error must surface (logged 500), not be disguised as a client error.
    with pytest.raises(type(to_raise)):
        _post(to_raise=to_raise)
