"""Administration: first-run set-up of the facility and the users of the mesh directory.

A device counts as set up once its mesh directory has a user: a device that joins an existing
mesh receives the directory by sync and skips set-up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from crdt_model import directory, facility, validate
from crdt_model.adapter import Doc
from crdt_model.context import Author
from crdt_model.errors import ConflictError, ValidationError
from meshd.clinic import actions
from meshd.clinic.base import Caller, new_id
from meshd.clinic.medicines import default_catalogue
from meshd.clinic.pharmacy import Pharmacy
from meshd.relay import credential as relay_credential

UserSetter = Callable[[Doc, str, str, Author], object]
"""A directory write of one field of a user: (doc, user id, value, author)."""


def _name_taken(doc: Doc, name: str) -> bool:
    return any(
        str(u.get("name", "")).casefold() == name.casefold()
        for u in directory.users(doc).values()
    )


def _keep_an_admin(doc: Doc, user_id: str, field: str) -> None:
    """ConflictError when `user_id` is the only enabled admin (nobody could manage users)."""
    admins = [k for k, u in directory.users(doc).items()
              if "admin" in (u.get("roles") or ()) and u.get("disabled") is not True]
    if admins == [user_id]:
        raise ConflictError("the clinic needs another enabled administrator first", field=field)


class Administration(Pharmacy):
    """The facility's settings and its users."""

    async def facility_name(self) -> str | None:
        """This device's facility name, or None before first-run set-up."""
        if not await self.users():
            return None
        settings = await self.docs.read(self.facility_doc_id, lambda doc: doc.get(("settings",)))
        name = settings.get("name") if isinstance(settings, dict) else None
        return str(name or self.identity.facility_name)

    async def set_up_facility(
        self, facility_name: str, admin: dict[str, Any], caller_origin: str
    ) -> str:
        """First run: name the facility, give it the default drug catalogue and create the first
        admin {name, pin_hash, language?}; ConflictError if done already. Returns the admin's
        user id."""
        name = validate.name(facility_name, "facility_name")
        user_id = new_id()
        author = self.author(Caller(user_id, caller_origin))  # the admin creates themselves
        language = admin.get("language")

        def set_up(docs: list[Doc]) -> None:
            people, place = docs
            if directory.users(people):
                raise ConflictError("this device is already set up")
            directory.add_user(people, user_id, {
                "name": admin["name"], "roles": ["admin"], "pin_hash": admin["pin_hash"],
            }, author)
            if language:
                directory.set_user_language(people, user_id, language, author)
            facility.set_settings(place, {"name": name}, author)
            known = facility.drug_catalogue(place)
            for drug in default_catalogue():  # the essential medicines, stock 0
                if drug["id"] not in known:
                    facility.add_drug(place, drug["id"], {
                        k: v for k, v in drug.items() if k != "id"}, author)

        await self.docs.update_many(
            [self.directory_doc_id, self.facility_doc_id], set_up, actor=author.actor
        )
        return user_id

    async def users(self) -> dict[str, dict[str, Any]]:
        """Every user of the mesh directory by id, active or not."""
        return await self.docs.read(self.directory_doc_id, directory.users)

    async def add_user(self, record: dict[str, Any], caller: Caller) -> str:
        """A new user {name, roles, pin_hash, language?}; ConflictError(field="name") when the
        name is taken. Returns the user id."""
        await self.allow(caller, "users")
        clean = validate.name(record.get("name"), "name")
        user_id = new_id()
        author = self.author(caller)
        language = record.get("language")

        def add(doc: Doc) -> None:
            if _name_taken(doc, clean):
                raise ConflictError("a user with this name exists", field="name")
            directory.add_user(doc, user_id, {
                "name": clean, "roles": list(record.get("roles") or ()),
                "pin_hash": record.get("pin_hash"),
            }, author)
            if language:
                directory.set_user_language(doc, user_id, language, author)

        await self.docs.update(self.directory_doc_id, add, actor=author.actor)
        return user_id

    async def set_user_language(self, user_id: str, language: str, caller: Caller) -> None:
        """Remember the language a user reads the UI in."""
        await self._set(directory.set_user_language, user_id, language, caller)

    async def set_user_pin(self, user_id: str, pin_hash: str, caller: Caller) -> None:
        """Replace a user's PIN hash."""
        await self._set(directory.set_pin_hash, user_id, pin_hash, caller)

    async def change_user(self, user_id: str, changes: Mapping[str, Any], caller: Caller) -> None:
        """Change a user's `roles`, `language` or `disabled` flag in one write (admin only, but
        anyone may change their own language). Nobody disables themselves, and the last
        enabled admin stays an enabled admin, so someone can always manage the users."""
        unknown = sorted(set(changes) - {"roles", "language", "disabled"})
        if unknown or not changes:
            raise ValidationError(
                "give roles, language or disabled" + (f" (not {unknown[0]})" if unknown else ""),
                field=unknown[0] if unknown else "body")
        if set(changes) != {"language"} or caller.user != user_id:
            await self.allow(caller, "users")
        roles, disabled = changes.get("roles"), changes.get("disabled")
        if roles is not None and not isinstance(roles, list | tuple):
            raise ValidationError("roles must be a list", field="roles")
        if disabled is True and user_id == caller.user:
            raise ValidationError("you can't disable yourself", field="disabled")
        author = self.author(caller)

        def change(doc: Doc) -> None:
            if roles is not None and "admin" not in roles:
                _keep_an_admin(doc, user_id, "roles")
            if disabled is True:
                _keep_an_admin(doc, user_id, "disabled")
            if roles is not None:
                directory.set_user_roles(doc, user_id, roles, author)
            if "language" in changes:
                directory.set_user_language(doc, user_id, changes["language"], author)
            if disabled is not None:
                directory.set_user_disabled(doc, user_id, disabled, author)

        detail = ", ".join(f"{k}={changes[k]}" for k in sorted(changes))
        await self.docs.update(
            self.directory_doc_id, change,
            [self.audit(caller, actions.CHANGE_USER, self.directory_doc_id,
                        f"{user_id}: {detail}"[:200])],
            actor=author.actor,
        )

    async def record_backup(self, file: str, caller: Caller) -> None:
        """Audit a backup of this device written by `caller` (an admin) to `file`."""
        await self.allow(caller, "users")
        await self.docs.record([self.audit(caller, actions.BACKUP, "", file)])

    async def link_relay(self, credential: str, caller: Caller) -> dict[str, str]:
        """Keep the central relay's credential (the JSON text of its file) in the mesh
        directory, admin only: every device of the clinic links with it (meshd.relay.link)."""
        await self.allow(caller, "users")
        found = relay_credential.parse(credential)
        author = self.author(caller)
        await self.docs.update(
            self.directory_doc_id,
            lambda doc: directory.set_relay_credential(doc, found.to_json(), author),
            [self.audit(caller, actions.RELAY_LINK, self.directory_doc_id,
                        f"{found.clinic} at {found.url}"[:200])],
            actor=author.actor,
        )
        return {"clinic": found.clinic, "url": found.url}

    async def audit_relay(self, action: str, doc_id: str, detail: str, caller: Caller) -> None:
        """Audit a search of, or a pull from, the central relay on this device."""
        await self.docs.record([self.audit(caller, action, doc_id, detail[:200])])

    async def _set(self, setter: UserSetter, user_id: str, value: str, caller: Caller) -> None:
        if caller.user != user_id:  # everyone may change their own language and PIN
            await self.allow(caller, "users")
        author = self.author(caller)
        await self.docs.update(
            self.directory_doc_id, lambda doc: setter(doc, user_id, value, author),
            actor=author.actor,
        )
