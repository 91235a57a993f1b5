"""Facility set-up and users for the UI, through the core's administration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshd.clinic_ui.base import UI_ORIGIN, ServiceBase
from meshd.clinic_ui.records import user_record
from ui.records import Facility, User


class People(ServiceBase):
    """Facility set-up and users."""

    async def facility(self) -> Facility | None:
        """This device's facility, or None before first-run set-up."""
        name = await self.clinic.facility_name()
        return None if name is None else Facility(self.identity.facility_id, name)

    async def set_up_facility(
        self, facility_name: str, admin_name: str, admin_pin_hash: str, language: str
    ) -> User:
        """First run: name the facility and create the first admin; ConflictError if done."""
        user_id = await self.clinic.set_up_facility(
            facility_name, {"name": admin_name, "pin_hash": admin_pin_hash, "language": language},
            UI_ORIGIN,
        )
        return await self._one_user(user_id)

    async def users(self) -> list[User]:
        """Every user of the mesh directory, active or not, by name."""
        found = await self.clinic.users()
        return sorted((user_record(k, v) for k, v in found.items()),
                      key=lambda u: u.name.casefold())

    async def _one_user(self, user_id: str) -> User:
        return user_record(user_id, (await self.clinic.users())[user_id])

    async def add_user(
        self, name: str, roles: tuple[str, ...], pin_hash: str, language: str | None, by: str
    ) -> User:
        """A new user; ConflictError(field="name") when the name is taken."""
        user_id = await self.clinic.add_user(
            {"name": name, "roles": roles, "pin_hash": pin_hash, "language": language},
            self.writer(by),
        )
        return await self._one_user(user_id)

    async def set_user_language(self, user_id: str, language: str, by: str) -> None:
        """Remember the language a user reads the UI in."""
        await self.clinic.set_user_language(user_id, language, self.writer(by))

    async def set_user_pin(self, user_id: str, pin_hash: str, by: str) -> None:
        """Replace a user's PIN hash."""
        await self.clinic.set_user_pin(user_id, pin_hash, self.writer(by))

    async def change_user(self, user_id: str, changes: Mapping[str, Any], by: str) -> None:
        """Change a user's roles, language or `disabled` flag (admin)."""
        await self.clinic.change_user(user_id, changes, self.writer(by))
