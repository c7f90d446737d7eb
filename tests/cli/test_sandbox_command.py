"""`msext sandbox`: both loopback peers of the demo, with the accounts to reach them."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import ldap3

from engine.adsync.demo import ENTRA_GROUP_ID
from engine.demo import SECRET_NAME
from engine.paths import ProfilePaths
from engine.psa.rest_client import PsaRestClient, every
from engine.settings.secrets import resolve_secret, write_secret_file
from tests.conftest import copy_profiles


def test_sandbox_serves_exchange_and_the_psa_rest_api(
    demo_template: Path, isolated_dirs: Path
) -> None:
    """R19: the --json line names the EWS endpoint, Graph with its app registration, the
    PSA REST base with its API user, the demo customer's Entra ID tenant (AD Sync) with
    its app registration and its domain controller over LDAPS with its bind account and CA,
    and the Teams channels' Workflows webhooks; each answers over loopback with what the
    line says."""
    copy_profiles(demo_template, isolated_dirs)
    process = subprocess.Popen(
        [sys.executable, "-m", "console.cli", "--profile", "demo", "sandbox", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        assert process.stdout is not None
        details = json.loads(process.stdout.readline())
        assert details["ews_url"].startswith("http://127.0.0.1:")
        assert httpx.post(details["ews_url"], content=b"").status_code == 401
        assert "chloe.reyes@contoso.example" in details["denied_mailboxes"]
        token = httpx.post(
            details["graph_token_url"],
            data={
                "grant_type": "client_credentials",
                "client_id": details["client_id"],
                "client_secret": details["client_secret"],
                "scope": "https://graph.microsoft.com/.default",
            },
        ).json()["access_token"]
        assert details["graph_token_url"].endswith(f"/{details['tenant_id']}/oauth2/v2.0/token")
        calendar = httpx.get(
            f"{details['graph_url']}/users/{details['mailboxes'][0]}/calendar",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert calendar.status_code == 200 and calendar.json()["name"] == "Calendar"
        assert httpx.get(details["workflows_url"]).status_code == 405
        api = PsaRestClient(
            details["psa_rest_url"],
            details["psa_username"],
            details["psa_secret"],
            details["psa_integration_code"],
        )
        assert api.count("Resources", every()) == 30
        api.close()
        entra_token = httpx.post(
            details["entra_token_url"],
            data={
                "grant_type": "client_credentials",
                "client_id": details["entra_client_id"],
                "client_secret": details["entra_client_secret"],
                "scope": "https://graph.microsoft.com/.default",
            },
        ).json()["access_token"]
        members = httpx.get(
            f"{details['entra_graph_url']}/groups/{ENTRA_GROUP_ID}/transitiveMembers/"
            "microsoft.graph.user?$select=id",
            headers={"Authorization": f"Bearer {entra_token}"},
        ).json()["value"]
        assert 0 < len(members) < details["entra_users"]
        assert _ldaps_users(details) == details["ldaps_users"] - 1  # one is outside OU=Staff
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert process.returncode == 0


def _ldaps_users(details: dict[str, Any]) -> int:
    """The users under the base DN, as ldap3 reads them with the printed bind account over
    TLS, the certificate trusted through the printed CA file for the printed host."""
    host, port = details["ldaps_address"].split(":")
    tls = ldap3.Tls(
        validate=ssl.CERT_REQUIRED,
        ca_certs_file=details["ldaps_ca_file"],
        valid_names=[details["ldaps_host"]],
    )
    server = ldap3.Server(host, port=int(port), use_ssl=True, tls=tls, get_info=ldap3.NONE)
    connection = ldap3.Connection(server, details["ldaps_bind_dn"], details["ldaps_password"])
    assert connection.bind(), connection.result
    found = connection.extend.standard.paged_search(
        details["ldaps_base_dn"], "(objectClass=user)", attributes=["1.1"], paged_size=1000
    )
    count = sum(1 for _ in found)
    connection.unbind()
    return count


def _sandbox_password(env: dict[str, str], *args: str) -> str:
    """The service account's password the sandbox of ``args``' profile prints."""
    process = subprocess.Popen(
        [sys.executable, "-m", "console.cli", *args, "sandbox", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, process.stderr.read() if process.stderr else ""
        return json.loads(line)["password"]
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_profiles_sandbox_serves_that_profile(demo_template: Path, isolated_dirs: Path) -> None:
    """A second sandbox profile beside the demo: `msext --profile other sandbox` and
    `MSEXT_PROFILE=other msext sandbox` serve its own emulator (its own service account
    secret), never the demo's; without either, the demo's."""
    copy_profiles(demo_template, isolated_dirs)
    demo = ProfilePaths.for_profile("demo")
    other = ProfilePaths.for_profile("other")
    for source, target in (
        (demo.config_dir, other.config_dir),
        (demo.data_dir, other.data_dir),
    ):
        shutil.copytree(source, target)
    write_secret_file(other, SECRET_NAME, "other-profiles-secret")
    env = dict(os.environ)
    assert _sandbox_password(env, "--profile", "other") == "other-profiles-secret"
    assert _sandbox_password(env | {"MSEXT_PROFILE": "other"}) == "other-profiles-secret"
    assert _sandbox_password(env) == resolve_secret(f"file:{SECRET_NAME}", demo)
