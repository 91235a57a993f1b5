"""Who may do what in a clinic: the acts each role allows. Pure; one table for every door.

The web UI shows and guards its pages with it; the clinic core (`meshd.clinic`) refuses an act
by a user of the directory whose roles do not allow it, whichever door it came through.
"""

from __future__ import annotations

from collections.abc import Collection

# Which roles may do what. Admin may do everything (a small clinic's admin is often a clinician).
PERMISSIONS: dict[str, frozenset[str]] = {
    "queue": frozenset({"registration", "nurse", "clinician", "lab", "pharmacy"}),
    "register": frozenset({"registration", "nurse", "clinician"}),
    "read_chart": frozenset({"nurse", "clinician", "lab", "pharmacy"}),
    "triage": frozenset({"nurse", "clinician"}),
    "attach": frozenset({"registration", "nurse", "clinician", "lab"}),
    "read_attachment": frozenset({"registration", "nurse", "clinician", "lab", "pharmacy"}),
    "consult": frozenset({"clinician"}),
    "lab": frozenset({"lab", "clinician"}),
    "pharmacy": frozenset({"pharmacy"}),
    "review": frozenset({"clinician"}),
    "reports": frozenset({"clinician"}),
    "sync": frozenset({"registration", "nurse", "clinician", "lab", "pharmacy"}),
    "users": frozenset(),
}


def may(roles: Collection[str], action: str) -> bool:
    """Whether a user with `roles` may perform `action`."""
    return "admin" in roles or bool(PERMISSIONS.get(action, frozenset()) & set(roles))
