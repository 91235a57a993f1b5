"""The facility's first-run set-up and its users, kept in `directory:<mesh>` and
`facility:<id>`.

A device counts as set up once its mesh directory has a user: a device that joins an existing
mesh receives the directory by sync and skips set-up.
"""

from __future__ import annotations

from typing import Any

from crdt_model import directory, facility, validate
from crdt_model.adapter import Doc
from crdt_model.errors import ConflictError
from meshd.clinic_ui.base import ServiceBase, new_id
from ui.records import Facility, User


def _user(user_id: str, record: dict[str, Any]) -> User:
    language = record.get("language")
    return User(
        id=user_id, name=str(record.get("name")), roles=tuple(record.get("roles") or ()),
        pin_hash=str(record.get("pin_hash") or ""),
        language=language if isinstance(language, str) else None,
        active=not record.get("disabled"),
    )


def _name_taken(doc: Doc, name: str) -> bool:
    return any(
        str(u.get("name", "")).casefold() == name.casefold()
        for u in directory.users(doc).values()
    )


class People(ServiceBase):
    """Facility set-up and users."""

    async def facility(self) -> Facility | None:
        """This device's facility, or None before first-run set-up."""
        if not await self.docs.read(self.directory_doc_id, directory.users):
            return None
        settings = await self.docs.read(
            self.clinic.facility_doc_id, lambda doc: doc.get(("settings",))
        )
        name = settings.get("name") if isinstance(settings, dict) else None
        return Facility(self.identity.facility_id, str(name or self.identity.facility_name))

    async def set_up_facility(
        self, facility_name: str, admin_name: str, admin_pin_hash: str, language: str
    ) -> User:
        """First run: name the facility and create the first admin; ConflictError if done."""
        name = validate.name(facility_name, "facility_name")
        user_id = new_id()
        author = self.clinic.author(self.writer(user_id))  # the admin creates themselves

        def set_up(docs: list[Doc]) -> None:
            people, place = docs
            if directory.users(people):
                raise ConflictError("this device is already set up")
            directory.add_user(people, user_id, {
                "name": admin_name, "roles": ["admin"], "pin_hash": admin_pin_hash,
            }, author)
            if language:
                directory.set_user_language(people, user_id, language, author)
            facility.set_settings(place, {"name": name}, author)

        await self.docs.update_many(
            [self.directory_doc_id, self.clinic.facility_doc_id], set_up, actor=author.actor
        )
        return await self._one_user(user_id)

    async def users(self) -> list[User]:
        """Every user of the mesh directory, active or not, by name."""
        found = await self.docs.read(self.directory_doc_id, directory.users)
        return sorted((_user(k, v) for k, v in found.items()), key=lambda u: u.name.casefold())

    async def _one_user(self, user_id: str) -> User:
        found = await self.docs.read(self.directory_doc_id, directory.users)
        return _user(user_id, found[user_id])

    async def add_user(
        self, name: str, roles: tuple[str, ...], pin_hash: str, language: str | None, by: str
    ) -> User:
        """A new user; ConflictError(field="name") when the name is taken."""
        clean = validate.name(name, "name")
        user_id = new_id()
        author = self.clinic.author(self.writer(by))

        def add(doc: Doc) -> None:
            if _name_taken(doc, clean):
                raise ConflictError("a user with this name exists", field="name")
            directory.add_user(
                doc, user_id, {"name": clean, "roles": list(roles), "pin_hash": pin_hash}, author
            )
            if language:
                directory.set_user_language(doc, user_id, language, author)

        await self.docs.update(self.directory_doc_id, add, actor=author.actor)
        return await self._one_user(user_id)

    async def set_user_language(self, user_id: str, language: str, by: str) -> None:
        """Remember the language a user reads the UI in."""
        author = self.clinic.author(self.writer(by))
        await self.docs.update(
            self.directory_doc_id,
            lambda doc: directory.set_user_language(doc, user_id, language, author),
            actor=author.actor,
        )

    async def set_user_pin(self, user_id: str, pin_hash: str, by: str) -> None:
        """Replace a user's PIN hash."""
        author = self.clinic.author(self.writer(by))
        await self.docs.update(
            self.directory_doc_id,
            lambda doc: directory.set_pin_hash(doc, user_id, pin_hash, author),
            actor=author.actor,
        )
