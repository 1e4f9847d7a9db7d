"""Authentication over real HTTP: passwords, JWT access/refresh tokens, API keys, and tampering."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import httpx
import jwt
import pytest
from tests.api.conftest import PASSWORD, SECRET, ApiServer


def _bearer(api: ApiServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=api.base_url, headers={"Authorization": f"Bearer {token}"})


def _claims(api: ApiServer, **changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": api.settings.jwt_issuer,
        "aud": api.settings.jwt_audience,
        "sub": api.users["admin-user"],
        "typ": "access",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "role": "admin",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def test_password_login_gives_tokens_that_work(api: ApiServer) -> None:
    tokens = api.token("operator-user")
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == api.settings.access_token_seconds
    with _bearer(api, tokens["access_token"]) as client:
        me = client.get("/v1/auth/me").json()
    assert me == {
        "kind": "user",
        "id": api.users["operator-user"],
        "name": "operator-user",
        "role": "operator",
        "team": "default",
    }


@pytest.mark.parametrize(("name", "password"), [("operator-user", "wrong password"), ("nobody", PASSWORD)])
def test_wrong_credentials_are_401(api: ApiServer, name: str, password: str) -> None:
    response = httpx.post(f"{api.base_url}/v1/auth/token", data={"username": name, "password": password})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_refresh_token_trades_for_a_new_pair_but_is_no_access_token(api: ApiServer) -> None:
    tokens = api.token("viewer-user")
    with _bearer(api, tokens["refresh_token"]) as client:
        refused = client.get("/v1/auth/me")
    assert refused.status_code == 401 and "refresh token cannot be used as a access" in refused.text
    fresh = httpx.post(f"{api.base_url}/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert fresh.status_code == 200
    with _bearer(api, fresh.json()["access_token"]) as client:
        assert client.get("/v1/auth/me").json()["name"] == "viewer-user"
    access_as_refresh = httpx.post(
        f"{api.base_url}/v1/auth/refresh", json={"refresh_token": tokens["access_token"]}
    )
    assert access_as_refresh.status_code == 401


def _alg_none(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        (lambda api: _alg_none(_claims(api)), "algorithm"),
        (lambda api: jwt.encode(_claims(api), "another-secret-" + "y" * 40, algorithm="HS256"), "signature"),
        (lambda api: jwt.encode(_claims(api), SECRET, algorithm="HS512"), "algorithm"),
        (
            lambda api: jwt.encode(_claims(api, exp=int(time.time()) - 5), SECRET, algorithm="HS256"),
            "expired",
        ),
        (lambda api: jwt.encode(_claims(api, aud="someone-else"), SECRET, algorithm="HS256"), "audience"),
        (lambda api: jwt.encode(_claims(api, iss="evil"), SECRET, algorithm="HS256"), "issuer"),
        (lambda api: jwt.encode(_claims(api, exp=None), SECRET, algorithm="HS256"), "'exp' claim"),
        (lambda api: jwt.encode(_claims(api, typ="refresh"), SECRET, algorithm="HS256"), "refresh token"),
        (lambda api: jwt.encode(_claims(api, sub="0" * 32), SECRET, algorithm="HS256"), "does not exist"),
        (lambda api: "not.a.jwt", "malformed"),
    ],
    ids=[
        "alg-none",
        "wrong-key",
        "other-alg",
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "no-exp",
        "refresh-as-access",
        "unknown-user",
        "garbage",
    ],
)
def test_tampered_tokens_are_refused(api: ApiServer, forge: object, reason: str) -> None:
    token = forge(api)  # type: ignore[operator]
    with _bearer(api, token) as client:
        response = client.get("/v1/runs")
    assert response.status_code == 401
    assert reason in response.json()["error"]["message"]


def test_a_correctly_signed_token_is_accepted(api: ApiServer) -> None:
    """The forged-token cases above fail for their reason, not because forging is broken."""
    token = jwt.encode(_claims(api), SECRET, algorithm="HS256")
    with _bearer(api, token) as client:
        assert client.get("/v1/runs").status_code == 200


def test_disabling_a_user_or_changing_the_password_kills_old_tokens(api: ApiServer) -> None:
    with api.client("admin") as admin:
        user = admin.post(
            "/v1/users", json={"name": "temp", "password": "first password", "role": "viewer"}
        ).json()
        old = api.token("temp", "first password")["access_token"]
        time.sleep(1.05)  # tokens carry whole seconds
        assert admin.patch(f"/v1/users/{user['id']}", json={"password": "second password"}).status_code == 200
        with _bearer(api, old) as client:
            assert client.get("/v1/auth/me").status_code == 401
        new = api.token("temp", "second password")["access_token"]
        time.sleep(1.05)
        assert admin.patch(f"/v1/users/{user['id']}", json={"disabled": True}).json()["disabled"] is True
        with _bearer(api, new) as client:
            assert client.get("/v1/auth/me").status_code == 401
    refused = httpx.post(
        f"{api.base_url}/v1/auth/token", data={"username": "temp", "password": "second password"}
    )
    assert refused.status_code == 401


def test_api_key_is_shown_once_stored_hashed_and_revocable(api: ApiServer) -> None:
    with api.client("admin") as admin:
        created = admin.post("/v1/keys", json={"name": "ci", "role": "viewer"})
        assert created.status_code == 201
        key = created.json()["key"]
        assert key.startswith(f"cdz_{created.json()['id']}_")
        listed = admin.get("/v1/keys", params={"limit": 100}).text
        assert key not in listed and key.split("_")[-1] not in listed
        with httpx.Client(base_url=api.base_url, headers={"X-API-Key": key}) as machine:
            assert machine.get("/v1/auth/me").json()["kind"] == "key"
            assert admin.delete(f"/v1/keys/{created.json()['id']}").status_code == 204
            assert machine.get("/v1/auth/me").status_code == 401
    tampered = key[:-1] + ("A" if key[-1] != "A" else "B")
    response = httpx.get(f"{api.base_url}/v1/auth/me", headers={"X-API-Key": tampered})
    assert response.status_code == 401


def test_no_credentials_is_401(api: ApiServer) -> None:
    response = httpx.get(f"{api.base_url}/v1/runs")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "unauthorized"


def test_cli_bootstraps_a_user_and_prints_a_key_as_last_line(api: ApiServer) -> None:
    env = {
        **os.environ,
        "CADENZA_DATABASE_URL": api.settings.database_url,
        "CADENZA_PASSWORD": "cli password 1",
    }
    cli = [sys.executable, "-c", "from cadenza.cli.app import main; main()"]
    made = subprocess.run(
        [*cli, "users", "create", "boss", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    tokens = api.token("boss", "cli password 1")
    with _bearer(api, tokens["access_token"]) as client:
        assert client.get("/v1/auth/me").json()["role"] == "admin"
    key_run = subprocess.run(
        [*cli, "keys", "create", "--name", "deploy-bot", "--role", "operator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert key_run.returncode == 0, key_run.stderr
    key = key_run.stdout.strip().splitlines()[-1]
    me = httpx.get(f"{api.base_url}/v1/auth/me", headers={"X-API-Key": key}).json()
    assert me["role"] == "operator" and me["name"] == "deploy-bot"
    bad_role = subprocess.run(
        [*cli, "keys", "create", "--name", "x", "--role", "root"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad_role.returncode == 2 and "unknown role 'root'" in bad_role.stderr
    no_password = subprocess.run(
        [*cli, "users", "create", "nopass"],
        env={**env, "CADENZA_PASSWORD": ""},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert no_password.returncode == 2 and "CADENZA_PASSWORD" in no_password.stderr
