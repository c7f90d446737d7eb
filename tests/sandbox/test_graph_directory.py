"""The Graph emulator's directory (Entra ID users and groups) through httpx, over its socket:
the shapes, limits and refusals of Microsoft Graph that AD Sync's reader meets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from engine.sandbox.graph import GraphEmulator
from engine.settings.adsync import GRAPH_USER_PERMISSION
from tests.sandbox.entra_tenant import CLIENT, MISSING_GROUP, SECRET, tenant_peer


@pytest.fixture
def graph() -> Iterator[GraphEmulator]:
    with tenant_peer() as peer:
        yield peer


def client(graph: GraphEmulator) -> httpx.Client:
    """A client with a token carrying the roles granted now."""
    form = {
        "grant_type": "client_credentials",
        "client_id": CLIENT,
        "client_secret": SECRET,
        "scope": "https://graph.microsoft.com/.default",
    }
    bearer = httpx.post(graph.token_url, data=form).json()["access_token"]
    return httpx.Client(base_url=graph.url, headers={"Authorization": f"Bearer {bearer}"})


@pytest.fixture
def api(graph: GraphEmulator) -> Iterator[httpx.Client]:
    with client(graph) as opened:
        yield opened


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    found = response.json()["error"]
    return response.status_code, found["code"], found["message"]


def staff(graph: GraphEmulator) -> dict[str, str]:
    """Staff holds Sales and Support; Sales holds Staff back (a loop); Dana is in both
    Sales and Support; Eve is disabled; Finn is in no group."""
    tenant = graph.tenant
    ids = {
        name: tenant.add_user(
            f"{name}@contoso.example",
            givenName=name.title(),
            surname="Example",
            mail=f"{name}@contoso.example",
            department="Sales",
            businessPhones=["+1 555 0100"],
        )
        for name in ("ava", "ben", "dana", "eve", "finn")
    }
    tenant.update_user(ids["eve"], accountEnabled=False)
    groups = {name: tenant.add_group(name) for name in ("Staff", "Sales", "Support")}
    for group, members in {
        "Staff": [ids["ava"], groups["Sales"], groups["Support"]],
        "Sales": [ids["ben"], ids["dana"], groups["Staff"]],
        "Support": [ids["dana"], ids["eve"]],
    }.items():
        for member in members:
            tenant.add_member(groups[group], member)
    return ids | groups


def every_page(api: httpx.Client, url: str, **params: str) -> list[list[dict[str, Any]]]:
    pages = []
    response = api.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        answer = response.json()
        pages.append(answer["value"])
        if "@odata.nextLink" not in answer:
            return pages
        response = api.get(answer["@odata.nextLink"])


def test_transitive_members_reach_nested_groups_once_through_a_loop(
    graph: GraphEmulator, api: httpx.Client
) -> None:
    """Every user and group reached through nested groups, each once: Dana (in two nested
    groups) once, the loop back to Staff ends, Finn (in no group) is not there."""
    ids = staff(graph)
    (members,) = every_page(api, f"/groups/{ids['Staff']}/transitiveMembers")
    found = sorted((entry["@odata.type"], entry.get("displayName")) for entry in members)
    assert found == [
        ("#microsoft.graph.group", "Sales"),
        ("#microsoft.graph.group", "Support"),
        *[("#microsoft.graph.user", f"{name} Example") for name in ("Ava", "Ben", "Dana", "Eve")],
    ]
    (users,) = every_page(api, f"/groups/{ids['Staff']}/transitiveMembers/microsoft.graph.user")
    assert sorted(user["userPrincipalName"] for user in users) == [
        f"{name}@contoso.example" for name in ("ava", "ben", "dana", "eve")
    ]
    (direct,) = every_page(api, f"/groups/{ids['Support']}/members")
    assert {entry["id"] for entry in direct} == {ids["dana"], ids["eve"]}


def test_select_sends_the_named_properties_with_id_and_type(
    graph: GraphEmulator, api: httpx.Client
) -> None:
    """A member carries what ``$select`` names, plus its id and @odata.type; accountEnabled
    flags the disabled user."""
    ids = staff(graph)
    select = "userPrincipalName,accountEnabled,businessPhones"
    (users,) = every_page(
        api,
        f"/groups/{ids['Support']}/transitiveMembers/microsoft.graph.user",
        **{"$select": select},
    )
    eve = next(user for user in users if user["id"] == ids["eve"])
    assert eve == {
        "@odata.type": "#microsoft.graph.user",
        "id": ids["eve"],
        "userPrincipalName": "eve@contoso.example",
        "accountEnabled": False,
        "businessPhones": ["+1 555 0100"],
    }


def test_a_user_without_select_has_graphs_default_properties(
    graph: GraphEmulator, api: httpx.Client
) -> None:
    """Graph sends accountEnabled, department and the address only when selected."""
    ids = staff(graph)
    default = api.get(f"/users/{ids['ava']}").json()
    assert default["givenName"] == "Ava" and "department" not in default
    assert "accountEnabled" not in default
    by_name = api.get("/users/AVA@contoso.example", params={"$select": "department,city"}).json()
    assert {key for key in by_name if not key.startswith("@")} == {"department", "city"}
    assert by_name["department"] == "Sales" and by_name["city"] is None


def test_pages_are_100_by_default_at_most_999_and_keep_the_select(
    graph: GraphEmulator, api: httpx.Client
) -> None:
    """Graph's page sizes for these lists: 100 by default, ``$top`` up to 999; the nextLink
    keeps ``$select``; every member comes exactly once."""
    group = graph.tenant.add_group("Everyone")
    for number in range(1_001):
        graph.tenant.add_member(group, graph.tenant.add_user(f"u{number}@contoso.example"))
    url = f"/groups/{group}/transitiveMembers/microsoft.graph.user"
    default = every_page(api, url, **{"$select": "mail"})
    assert [len(page) for page in default] == [100] * 10 + [1]
    assert all(set(user) == {"@odata.type", "id", "mail"} for page in default for user in page)
    widest = every_page(api, url, **{"$select": "id", "$top": "999"})
    assert [len(page) for page in widest] == [999, 2]
    ids = [user["id"] for page in widest for user in page]
    assert len(set(ids)) == len(ids) == 1_001
    too_many = api.get(url, params={"$top": "1000"})
    assert error_of(too_many) == (
        400,
        "Request_BadRequest",
        "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.",
    )


def test_a_token_without_the_permission_is_refused_as_graph_refuses_it(
    graph: GraphEmulator,
) -> None:
    """403 Authorization_RequestDenied for the group without GroupMember.Read.All and for a
    user without User.Read.All; with only GroupMember.Read.All the members come as Graph
    gives inaccessible ones: type and id, the rest null."""
    ids = staff(graph)
    denied = (
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
    graph.revoke_role(GRAPH_USER_PERMISSION)
    with client(graph) as api:
        assert error_of(api.get(f"/users/{ids['ava']}")) == denied
        assert error_of(api.get("/users")) == denied
        (users,) = every_page(
            api,
            f"/groups/{ids['Support']}/transitiveMembers/microsoft.graph.user",
            **{"$select": "userPrincipalName"},
        )
        assert {user["id"]: user["userPrincipalName"] for user in users} == {
            ids["dana"]: None,
            ids["eve"]: None,
        }
    graph.revoke_role("GroupMember.Read.All")
    graph.grant_role("Directory.Read.All")
    with client(graph) as api:
        assert api.get(f"/groups/{ids['Staff']}").json()["displayName"] == "Staff"
    graph.revoke_role("Directory.Read.All")
    graph.grant_role(GRAPH_USER_PERMISSION)
    with client(graph) as api:
        assert error_of(api.get(f"/groups/{ids['Staff']}/transitiveMembers")) == denied
        assert error_of(api.get(f"/groups/{MISSING_GROUP}")) == denied


def test_a_missing_group_or_user_is_not_found(api: httpx.Client) -> None:
    """404 Request_ResourceNotFound naming the id; an id that is no GUID is a bad request."""
    assert error_of(api.get(f"/groups/{MISSING_GROUP}/transitiveMembers")) == (
        404,
        "Request_ResourceNotFound",
        f"Resource '{MISSING_GROUP}' does not exist or one of its queried reference-property"
        " objects are not present.",
    )
    assert error_of(api.get("/users/nobody@contoso.example"))[:2] == (
        404,
        "Request_ResourceNotFound",
    )
    assert error_of(api.get("/groups/sales")) == (
        400,
        "Request_BadRequest",
        "Invalid object identifier 'sales'.",
    )


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"$filter": "accountEnabled eq true"}, "the query option '$filter'"),
        ({"$search": '"displayName:ava"'}, "the query option '$search'"),
        ({"$count": "true"}, "the query option '$count'"),
        ({"$select": "employeeId"}, "the property 'employeeId' in $select"),
    ],
)
def test_what_the_emulator_lacks_is_refused_by_name(
    graph: GraphEmulator, api: httpx.Client, params: dict[str, str], named: str
) -> None:
    group = graph.tenant.add_group("Staff")
    response = api.get(f"/groups/{group}/transitiveMembers/microsoft.graph.user", params=params)
    status, code, message = error_of(response)
    assert (status, code) == (501, "NotImplemented") and named in message
    device = api.get(f"/groups/{group}/transitiveMembers/microsoft.graph.device")
    assert "the cast to 'microsoft.graph.device'" in error_of(device)[2]


def test_a_page_told_to_fail_answers_500(graph: GraphEmulator, api: httpx.Client) -> None:
    """The switch AD Sync's tests break a listing with: the second page fails."""
    group = graph.tenant.add_group("Staff")
    for number in range(3):
        graph.tenant.add_member(group, graph.tenant.add_user(f"u{number}@contoso.example"))
    graph.fail(1, after=1)
    url = f"/groups/{group}/transitiveMembers/microsoft.graph.user"
    first = api.get(url, params={"$top": "2"})
    assert first.status_code == 200
    assert api.get(first.json()["@odata.nextLink"]).status_code == 500
    assert api.get(first.json()["@odata.nextLink"]).status_code == 200
