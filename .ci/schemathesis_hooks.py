"""Schemathesis extension for `.ci/api-document`: which token each secured operation gets.

One server mounts several apps, and their access tokens are not interchangeable:

- MicroDock's operations (tag `microdock`) take MicroDock's token of `POST /api/auth/login`
  (`/token`).
- Workflow's operations (tag `workflow`) take workflow's token of
  `POST /api/v1/users/auth/login` (`/data/access_token`); the platform administrator is
  also workflow's administrator.
- The diet planner's operations (tag `dietplan`) take the token of `POST /api/v1/auth/login`
  (`/data/tokens/access_token`).
- Momentum's operations (tag `momentum`) take only a Momentum token (audience `momentum`) of
  `POST /auth/login` (`/data/access_token`); they refuse the platform token with 401. The
  administrator gets a Momentum workspace on its first Momentum login.

Every app documents the one `bearer` scheme, and the config file's dynamic auth fetches one
token per scheme, so auth providers chosen by tag (and, for sign-outs, by path) do it here
(config-file auth would switch these off, see `.ci/schemathesis.toml`). All sign in as the administrator with the
throwaway `ADMIN_PASSWORD` the script starts the server with; a 401 (the fuzzer signed the
session out) signs in again.

Momentum's `PUT /auth/profile` (and `PUT /users/profile`) may rename the account the fuzzer
works as: the name and e-mail address from its answer are used for the next sign-in. The
fuzzer may also delete (or leave) the administrator's last Momentum workspace; after a 409
`NO_WORKSPACE` a new one is created.
"""

from __future__ import annotations

import json
import os
import threading

import requests

import schemathesis

_PASSWORD = os.environ["ADMIN_PASSWORD"]
_lock = threading.Lock()
# The administrator's current sign-in name and e-mail address (see the module's doc).
_account = {"username": "admin", "email": None, "id": None}
_PROFILE_PATHS = {"/auth/profile", "/users/profile"}


def _base_url(case) -> str:
    return case.operation.schema.get_base_url().rstrip("/")


def _sign_in(case, path: str, fields: dict[str, str | None]) -> dict:
    answer = requests.post(
        _base_url(case) + path, json={**fields, "password": _PASSWORD}, timeout=30
    )
    if answer.status_code != 200:
        raise RuntimeError(
            f"POST {path} as the administrator: {answer.status_code} {answer.text[:300]}"
        )
    return answer.json()


def _names(field: str) -> list[dict[str, str | None]]:
    """The sign-in bodies to try, `field` naming the account: by name, then by address."""
    with _lock:
        names = [_account["username"], _account["email"]]
    return [{field: name} for name in names if name]


def _first_sign_in(case, path: str, field: str, key) -> str:
    errors = []
    for fields in _names(field):
        try:
            return key(_sign_in(case, path, fields))
        except RuntimeError as e:
            errors.append(str(e))
    raise RuntimeError("; ".join(errors))


class _Token:
    """Signs in through `path` (the account named by `field`) and sends the bearer token
    `key` picks from the answer."""

    path = ""
    field = ""

    @staticmethod
    def key(body: dict) -> str:
        raise NotImplementedError

    def get(self, case, context):
        return _first_sign_in(case, self.path, self.field, self.key)

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


class _MicroDock(_Token):
    path, field = "/api/auth/login", "username"

    @staticmethod
    def key(body: dict) -> str:
        return body["token"]


class _Workflow(_Token):
    path, field = "/api/v1/users/auth/login", "username_or_email"

    @staticmethod
    def key(body: dict) -> str:
        return body["data"]["access_token"]


class _Diet(_Token):
    path, field = "/api/v1/auth/login", "username"

    @staticmethod
    def key(body: dict) -> str:
        return body["data"]["tokens"]["access_token"]


class _Momentum(_Token):
    path, field = "/auth/login", "username_or_email"

    @staticmethod
    def key(body: dict) -> str:
        with _lock:
            _account["id"] = body["data"]["user"]["id"]
        return body["data"]["access_token"]


# Signing out revokes the token it is sent with: these operations get a session of their
# own for every request (no cache) so that they do not sign out the one the other operations
# share. The first provider whose filter matches an operation gives its token.
_SIGN_OUT = [
    (_MicroDock, "/api/auth/logout"),
    (_Workflow, "/api/v1/users/auth/logout"),
    (_Momentum, "/auth/logout"),
]
for _cls, _path in _SIGN_OUT:
    schemathesis.auth(refresh_interval=None).apply_to(path=_path)(
        type(f"{_cls.__name__}SignOut", (_cls,), {})
    )
for _cls, _tag in [
    (_MicroDock, "microdock"),
    (_Workflow, "workflow"),
    (_Momentum, "momentum"),
    (_Diet, "dietplan"),
]:
    # A 401 (a session revoked by the fuzzer: another session's sign-out of every session,
    # a refresh token presented twice) signs in again and replays the request.
    schemathesis.auth(retry_on=[401]).apply_to(tag=_tag)(type(f"{_cls.__name__}Token", (_cls,), {}))


def _answer(response):
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _give_a_workspace(case, response):
    """After Momentum's 409 `NO_WORKSPACE` (the fuzzer deleted or left the administrator's
    last workspace), creates one, so that later requests reach the operations' own rules."""
    body = _answer(response)
    if not isinstance(body, dict) or not any(
        isinstance(e, dict) and e.get("code") == "NO_WORKSPACE" for e in body.get("errors") or []
    ):
        return
    auth = (case.headers or {}).get("Authorization")
    if not auth:
        return
    requests.post(
        _base_url(case) + "/workspaces",
        json={"name": "Fuzzing"},
        headers={"Authorization": auth},
        timeout=30,
    )


@schemathesis.hook
def after_call(context, case, response):
    """Follows renames of the account the fuzzer signs in as, and gives it a Momentum
    workspace again when it has none."""
    if response.status_code == 409 and "momentum" in (case.operation.tags or []):
        _give_a_workspace(case, response)
    if case.method.upper() != "PUT" or case.operation.path not in _PROFILE_PATHS:
        return
    if response.status_code != 200:
        return
    try:
        data = json.loads(response.content)["data"]
    except (ValueError, KeyError, TypeError):
        return
    if not isinstance(data, dict):
        return
    with _lock:
        # Momentum answers the caller's profile: only the administrator's own renames count.
        if data.get("id") != _account["id"]:
            return
        if data.get("username"):
            _account["username"] = data["username"]
        if data.get("email"):
            _account["email"] = data["email"]
