import pytest
from django.contrib.auth.models import Group

from leadops.core.errors import ApplicationError
from leadops.markets.models import REVOPS_GROUP
from leadops.markets.selectors import market_access_for
from leadops.markets.services import market_access_grant, market_access_revoke
from tests.factories import UserFactory
from tests.fixtures import SYSTEM

pytestmark = pytest.mark.django_db

NOTES = "/admin/markets/marketnote/"
ACCESS = "/admin/markets/market/access/"


@pytest.mark.parametrize(
    ("who", "status", "sees_a", "sees_b"),
    [
        ("anonymous", 302, False, False),
        ("staff_no_market", 403, False, False),
        ("manager_a", 200, True, False),
        ("revops", 200, True, True),
        ("superuser", 200, True, True),
    ],
)
def test_note_changelist_permission_matrix(client, login_as, notes, who, status, sees_a, sees_b):
    login_as(who)

    response = client.get(NOTES)
    html = response.content.decode()

    assert response.status_code == status
    assert ("note in A" in html) is sees_a
    assert ("note in B" in html) is sees_b


def test_manager_cannot_open_another_markets_note(client, notes, manager_a):
    client.force_login(manager_a)

    response = client.get(f"{NOTES}{notes['b'].pk}/change/", follow=True)

    assert "note in B" not in response.content.decode()


def test_scoped_changelists_offer_no_delete_selected(client, notes, revops_user):
    client.force_login(revops_user)

    html = client.get(NOTES).content.decode()

    assert "delete_selected" not in html


@pytest.mark.parametrize(
    ("who", "status", "can_edit"),
    [
        ("anonymous", 302, False),
        ("staff_no_market", 403, False),
        ("manager_a", 200, False),
        ("revops", 200, True),
        ("superuser", 200, True),
    ],
)
def test_market_access_page_permission_matrix(client, login_as, notes, who, status, can_edit):
    login_as(who)

    response = client.get(ACCESS)

    assert response.status_code == status
    assert ('id="market-access-form"' in response.content.decode()) is can_edit


def test_manager_cannot_post_a_grant(client, notes, manager_a, market_b):
    client.force_login(manager_a)

    response = client.post(ACCESS, {"market": market_b.pk, "user": manager_a.pk, "action": "grant"})

    assert response.status_code == 403
    assert market_b.id not in market_access_for(manager_a).market_ids


def test_revops_grants_and_revokes_through_the_page(client, notes, revops_user, market_b):
    person = UserFactory.create(username="pat", is_staff=True)
    client.force_login(revops_user)

    client.post(ACCESS, {"market": market_b.pk, "user": person.pk, "action": "grant"})
    granted = market_access_for(person).market_ids
    client.post(ACCESS, {"market": market_b.pk, "user": person.pk, "action": "revoke"})

    assert granted == frozenset({market_b.id})
    assert market_access_for(person).market_ids == frozenset()


def test_grant_to_a_group_reaches_its_members(market_a, market_b):
    group = Group.objects.create(name="EMEA leads")
    person = UserFactory.create()
    person.groups.add(group)

    market_access_grant(actor=SYSTEM, market=market_b, group=group)

    assert market_access_for(person).market_ids == frozenset({market_b.id})


def test_revops_cannot_lose_a_market(market_a):
    with pytest.raises(ApplicationError, match="RevOps keeps access"):
        market_access_revoke(
            actor=SYSTEM, market=market_a, group=Group.objects.get(name=REVOPS_GROUP)
        )


def test_global_access_permission_is_ignored(market_a):
    from django.contrib.auth.models import Permission

    person = UserFactory.create()
    person.user_permissions.add(Permission.objects.get(codename="access_market"))

    assert market_access_for(person).market_ids == frozenset()


def test_new_market_is_granted_to_revops_and_its_managers(revops_user, market_a):
    assert market_a.id in market_access_for(revops_user).market_ids
    assert market_access_for(revops_user).see_global is True


def test_unassigned_and_revops_exist_after_a_flush():
    from leadops.core.access import system_context
    from leadops.markets.models import Market

    with system_context("tests"):
        assert Market.objects.filter(code="UNASSIGNED").exists()
    assert Group.objects.filter(name=REVOPS_GROUP).exists()


@pytest.mark.parametrize(
    ("who", "market_status", "client_status"),
    [
        ("anonymous", 302, 302),
        ("staff_no_market", 403, 403),
        ("manager_a", 200, 403),
        ("revops", 200, 200),
        ("superuser", 200, 200),
    ],
)
def test_market_and_api_client_pages_permission_matrix(
    client, login_as, notes, who, market_status, client_status
):
    login_as(who)

    markets = client.get("/admin/markets/market/")
    clients = client.get("/admin/markets/apiclient/")

    assert markets.status_code == market_status
    assert clients.status_code == client_status
    if who == "manager_a":
        assert "AAA" in markets.content.decode()
        assert "BBB" not in markets.content.decode()


def test_group_page_offers_no_market_grant_and_keeps_see_global(client, superuser):
    # given the RevOps group, which holds see_global
    revops = Group.objects.get(name=REVOPS_GROUP)
    client.force_login(superuser)

    # when a superuser opens and saves it through the stock group page
    page = client.get(f"/admin/auth/group/{revops.pk}/change/").content.decode()
    kept = list(revops.permissions.exclude(codename="see_global").values_list("pk", flat=True))
    response = client.post(
        f"/admin/auth/group/{revops.pk}/change/", {"name": REVOPS_GROUP, "permissions": kept}
    )

    # then the page never offered market grants, and RevOps still sees global rows
    assert response.status_code == 302
    assert "Can access the market" not in page
    assert "Can see rows that belong to no market" not in page
    assert revops.permissions.filter(codename="see_global").exists()
