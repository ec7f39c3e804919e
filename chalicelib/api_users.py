"""API users are users: every API key belongs to a user of its company, the one whose
e-mail is the key's API user, as in Clockodo (where every API user is one of the
company's users, with a role).

The operator CLI makes the user with the key (an owner for a new company, a worker unless
said otherwise); ``GET /v4/users/me`` answers it; absences' and entries' ``users_id``
default to it. An e-mail names one user of a company. A user who holds keys keeps its
e-mail (422 ``MailCannotBeChanged``); deleting such a user revokes its keys in the same
transaction, and nobody deletes their own user (422 ``UserCannotDeleteThemselves``).
"""
from __future__ import annotations

from typing import Any

from chalicelib import auth, resource_store, resources
from chalicelib.auth import Caller, IssuedKey
from chalicelib.errors import Unprocessable

USER = resources.get("user")
OWNER, WORKER = "owner", "worker"
ROLES = (OWNER, WORKER)  # Clockodo's: "owner" is the administrator


def _same(email: str, other: str) -> bool:
    return auth.normalize_user(email) == auth.normalize_user(other)


def find(company_id: int, email: str) -> dict[str, Any] | None:
    """The company's user with this e-mail (in any case), or None."""
    return next((user for user in resource_store.list_all(company_id, USER)
                 if _same(user["email"], email)), None)


def new_user(email: str, role: str, name: str | None = None) -> dict[str, Any]:
    """A checked new user (``Unprocessable`` naming the field otherwise); the name is the
    e-mail's local part unless given."""
    email = auth.normalize_user(email)
    return resources.check_create(USER, {"email": email, "role": role,
                                         "name": name or email.partition("@")[0][:100]})


def _create(company_id: int, data: dict[str, Any]) -> dict[str, Any]:
    return resource_store.item_json(resource_store.create(company_id, USER, data), data)


def issue_key(company_id: int, email: str, role: str = WORKER,
              name: str | None = None) -> tuple[IssuedKey, int]:
    """A new API key for ``email`` and the id of its user, who is created (with ``role``
    and ``name``) if the company has none with that e-mail."""
    api_user = auth.issuable(company_id, email)
    user = find(company_id, api_user)
    if user is None:
        user = _create(company_id, new_user(api_user, role, name))
    return auth.issue_key(company_id, api_user), int(user["id"])


def me(caller: Caller) -> dict[str, Any]:
    """The caller's user. A key issued before API users were users (a company made by an
    older version) gets its user here, on first need: an owner if the company has none,
    else a worker."""
    company_id = caller.company.company_id
    users = resource_store.list_all(company_id, USER)
    mine = next((user for user in users if _same(user["email"], caller.api_user)), None)
    if mine is not None:
        return mine
    role = WORKER if any(user["role"] == OWNER for user in users) else OWNER
    return _create(company_id, new_user(caller.api_user, role))


def check_write(company_id: int, resource_id: int | None, old: dict[str, Any] | None,
                new: dict[str, Any]) -> None:
    """Refuse a user whose e-mail another user of the company has, and a new e-mail for
    a user who holds API keys (the key's API user is that e-mail)."""
    if old is not None and _same(old["email"], new["email"]):
        return
    if any(_same(user["email"], new["email"]) and user["id"] != resource_id
           for user in resource_store.list_all(company_id, USER)):
        raise Unprocessable(f"another user of your company has the e-mail {new['email']}",
                            path="email", type="EmailNotAvailable")
    if old is not None and auth.keys_in(company_id, old["email"]):
        raise Unprocessable("the e-mail of a user who holds API keys is their API user and "
                            "cannot be changed; ask the operator for a key for the new "
                            "address", path="email", type="MailCannotBeChanged")


def revocations(caller: Caller, resource_id: int) -> list[dict[str, Any]]:
    """What deleting the user ``resource_id`` also does: revoke the user's API keys (404
    for no such user; 422 for the caller's own)."""
    company_id = caller.company.company_id
    user, _ = resource_store.get(company_id, USER, resource_id)
    if _same(user["email"], caller.api_user):
        raise Unprocessable("you cannot delete your own user (the API user's)", path="id",
                            type="UserCannotDeleteThemselves")
    return [auth.revocation(key) for key in auth.keys_in(company_id, user["email"])]
