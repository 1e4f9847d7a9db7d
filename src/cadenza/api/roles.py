"""Roles and what each may do. Every endpoint names the one permission it needs.

``admin`` manages users and keys, reads the audit log and sees every team's objects;
``operator`` registers workflows and agents and starts, cancels, resumes and approves runs;
``viewer`` only reads. Non-admins see their own team's objects only (and their team's costs and
agent statistics). ``/metrics`` is admin-only: its labels name every team's workflows and agents
(``CADENZA_METRICS_PUBLIC=true`` opens it to scrapers on a private network).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    operator = "operator"
    viewer = "viewer"


class Permission(StrEnum):
    workflows_read = "workflows:read"
    workflows_write = "workflows:write"
    agents_read = "agents:read"
    agents_write = "agents:write"
    runs_read = "runs:read"
    runs_write = "runs:write"
    runs_approve = "runs:approve"
    users_manage = "users:manage"
    keys_manage = "keys:manage"
    audit_read = "audit:read"
    costs_read = "costs:read"
    metrics_read = "metrics:read"


_VIEWER = frozenset(
    {Permission.workflows_read, Permission.agents_read, Permission.runs_read, Permission.costs_read}
)
_OPERATOR = _VIEWER | {
    Permission.workflows_write,
    Permission.agents_write,
    Permission.runs_write,
    Permission.runs_approve,
}
GRANTS: dict[Role, frozenset[Permission]] = {
    Role.viewer: _VIEWER,
    Role.operator: frozenset(_OPERATOR),
    Role.admin: frozenset(Permission),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in GRANTS[role]


def parse_role(value: str) -> Role:
    """The role named ``value``; ``ValueError`` naming the valid roles otherwise."""
    try:
        return Role(value)
    except ValueError:
        raise ValueError(
            f"unknown role {value!r}: expected one of {', '.join(r.value for r in Role)}"
        ) from None
