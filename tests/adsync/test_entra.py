"""AD Sync's Entra ID reader against the Graph emulator over its socket: one group's
transitive users in pages of 999, what each user carries, and every refusal as one line
naming what to fix."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from engine.adsync.entra import EntraIdReader
from engine.adsync.model import DirectoryError
from engine.psa.contacts import ContactValues
from engine.sandbox.graph import GraphEmulator
from engine.settings.adsync import (
    GRAPH_GROUP_PERMISSION,
    GRAPH_USER_PERMISSION,
    ContactField,
    EntraIdDirectory,
)
from tests.certificate import self_signed
from tests.sandbox.entra_tenant import CLIENT, MISSING_GROUP, SECRET, TENANT, tenant_peer

TODAY = date(2026, 12, 2)
MEMBERS_PAGE = "transitiveMembers.cast"


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with tenant_peer() as peer:
        yield peer


def reader(
    graph: GraphEmulator,
    group: str,
    fields: list[ContactField] | None = None,
    secret: str = SECRET,
    **settings: object,
) -> EntraIdReader:
    directory = EntraIdDirectory(
        tenant_id=TENANT,
        client_id=CLIENT,
        group_id=group,
        graph_url=graph.url,
        token_url=graph.token_url,
        **settings,
    )
    chosen = list(ContactField) if fields is None else fields
    return EntraIdReader(1, directory, chosen, secret, TODAY)


def read(graph: GraphEmulator, group: str, **options: object) -> list:
    opened = reader(graph, group, **options)
    try:
        return list(opened.users())
    finally:
        opened.close()


def crowd(graph: GraphEmulator, count: int) -> str:
    """A group whose ``count`` users sit in two nested groups."""
    tenant = graph.tenant
    top, left, right = (tenant.add_group(name) for name in ("Customers", "East", "West"))
    tenant.add_member(top, left)
    tenant.add_member(top, right)
    for number in range(count):
        user = tenant.add_user(f"u{number:05d}@customer.example", givenName=f"U{number}")
        tenant.add_member(left if number % 2 else right, user)
    return top


def test_a_group_past_999_members_is_read_in_pages_of_999(graph: GraphEmulator) -> None:
    """Every user once, in pages of Graph's most (999), following each nextLink."""
    group = crowd(graph, 1_500)
    users = read(graph, group)
    assert len({user.directory_id for user in users}) == len(users) == 1_500
    assert graph.stats.by_operation[MEMBERS_PAGE] == 2


def test_nested_groups_a_loop_and_a_user_in_two_groups(graph: GraphEmulator) -> None:
    """Users of nested groups are in scope, a user in two of them comes once, a loop
    between groups ends, a user outside the group is not read."""
    tenant = graph.tenant
    staff, sales, support = (tenant.add_group(name) for name in ("Staff", "Sales", "Support"))
    ava, ben, cleo, dev = (
        tenant.add_user(f"{name}@customer.example") for name in ("ava", "ben", "cleo", "dev")
    )
    for group, member in [
        (staff, ava),
        (staff, sales),
        (sales, support),
        (support, staff),
        (sales, ben),
        (support, ben),
        (support, cleo),
    ]:
        tenant.add_member(group, member)
    assert sorted(user.login for user in read(graph, staff)) == [
        "ava@customer.example",
        "ben@customer.example",
        "cleo@customer.example",
    ]
    assert dev not in {user.directory_id for user in read(graph, sales)}


def test_a_user_carries_its_contact_values_and_disabled_ones_are_flagged(
    graph: GraphEmulator,
) -> None:
    """Graph's properties become contact values (the first business phone; null is blank;
    Graph has no middle name); a disabled account is read, flagged not enabled."""
    tenant = graph.tenant
    group = tenant.add_group("Customers")
    ava = tenant.add_user(
        "ava.stone@customer.example",
        givenName="Ava",
        surname="Stone",
        mail="Ava.Stone@customer.example",
        jobTitle="Buyer",
        department="Purchasing",
        businessPhones=["+1 555 0101", "+1 555 0102"],
        mobilePhone="+1 555 0199",
        streetAddress="1 Station Square",
        city="Riverton",
        state="OR",
        postalCode="97101",
        country="United States",
    )
    ben = tenant.add_user("ben@customer.example", givenName="Ben", account_enabled=False)
    for user in (ava, ben):
        tenant.add_member(group, user)
    found = {user.directory_id: user for user in read(graph, group)}
    assert found[ava].login == "ava.stone@customer.example" and found[ava].enabled
    assert found[ava].values == ContactValues(
        first_name="Ava",
        last_name="Stone",
        email="Ava.Stone@customer.example",
        title="Buyer",
        department="Purchasing",
        phone="+1 555 0101",
        mobile_phone="+1 555 0199",
        street="1 Station Square",
        city="Riverton",
        state="OR",
        postal_code="97101",
        country="United States",
    )
    assert not found[ben].enabled and found[ben].values == ContactValues(first_name="Ben")


def test_only_the_synced_fields_are_selected(graph: GraphEmulator) -> None:
    """With only the e-mail synced, Graph is asked for the names, e-mail and identity: a
    title or an address in the directory is not read."""
    tenant = graph.tenant
    group = tenant.add_group("Customers")
    tenant.add_member(
        group,
        tenant.add_user(
            "ava@customer.example", givenName="Ava", mail="ava@customer.example", city="Riverton"
        ),
    )
    (ava,) = read(graph, group, fields=[ContactField.EMAIL])
    assert ava.values == ContactValues(first_name="Ava", email="ava@customer.example")


def test_a_failing_page_fails_the_read(graph: GraphEmulator) -> None:
    """The second page breaks: the read raises DirectoryError, never ends as if the scope
    were the first page."""
    group = crowd(graph, 1_200)
    graph.fail(1, after=1)
    with pytest.raises(DirectoryError, match="page 2") as failed:
        read(graph, group)
    assert "500" in str(failed.value)


def test_a_throttled_page_is_waited_out(graph: GraphEmulator) -> None:
    """Graph's 429 with Retry-After on the second page delays the read, never cuts it."""
    group = crowd(graph, 1_200)
    graph.throttle(1, retry_after=1, after=1)
    assert len(read(graph, group)) == 1_200
    assert graph.stats.by_operation[MEMBERS_PAGE] == 3


def test_a_missing_permission_is_named(graph: GraphEmulator) -> None:
    """Without GroupMember.Read.All Graph refuses the group (403); without User.Read.All it
    lists the members without their properties. Either way the read fails naming the
    permission, and Test connection stops at that permission's step."""
    group = crowd(graph, 3)
    graph.revoke_role(GRAPH_USER_PERMISSION)
    with pytest.raises(DirectoryError, match=f"permission {GRAPH_USER_PERMISSION}"):
        read(graph, group)
    steps = list(reader(graph, group).check())
    assert [(step.name, step.ok) for step in steps] == [
        ("Sign-in", True),
        (f"Permission {GRAPH_USER_PERMISSION}", False),
    ]
    assert f"lacks the application permission {GRAPH_USER_PERMISSION}" in steps[-1].detail
    graph.grant_role(GRAPH_USER_PERMISSION)
    graph.revoke_role(GRAPH_GROUP_PERMISSION)
    with pytest.raises(DirectoryError, match=f"permission {GRAPH_GROUP_PERMISSION}"):
        read(graph, group)
    last = list(reader(graph, group).check())[-1]
    assert (last.name, last.ok) == (f"Permission {GRAPH_GROUP_PERMISSION}", False)


def test_check_walks_sign_in_permissions_group_and_members(graph: GraphEmulator) -> None:
    """Every step passes; the member count counts disabled users; a secret that expires
    within 30 days is warned about in the sign-in step."""
    group = crowd(graph, 4)
    graph.tenant.update_user(
        graph.tenant.user("u00001@customer.example")["id"], accountEnabled=False
    )
    expires = TODAY + timedelta(days=12)
    steps = list(reader(graph, group, secret_expires=expires).check())
    assert [(step.name, step.ok) for step in steps] == [
        ("Sign-in", True),
        (f"Permission {GRAPH_USER_PERMISSION}", True),
        (f"Permission {GRAPH_GROUP_PERMISSION}", True),
        ("Group", True),
        ("Members", True),
    ]
    assert "expires in 12 days (2026-12-14)" in steps[0].detail
    assert steps[3].detail == f"Customers ({group})"
    assert steps[4].detail.startswith("4 users") and "(1 disabled)" in steps[4].detail


def test_a_missing_group_and_a_wrong_secret_say_what_to_fix(graph: GraphEmulator) -> None:
    missing = MISSING_GROUP
    with pytest.raises(DirectoryError, match=f"no group {missing}"):
        read(graph, missing)
    last = list(reader(graph, missing).check())[-1]
    assert (last.name, last.ok) == ("Group", False) and "Setup tab" in last.detail
    (signed,) = reader(graph, missing, secret="wrong").check()
    assert not signed.ok and "check the client secret on the organization's Setup tab" in (
        signed.detail
    )


def test_a_certificate_signs_in_instead_of_a_secret() -> None:
    """The secret reference may name a PEM certificate and key, as for the Exchange side."""
    with_key, certificate = self_signed()
    with tenant_peer(certificate=certificate) as peer:
        group = crowd(peer, 2)
        assert len(read(peer, group, secret=with_key)) == 2
