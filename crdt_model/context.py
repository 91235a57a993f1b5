"""Who is writing and when: passed into every domain operation (the model never reads a clock)."""

from __future__ import annotations

from dataclasses import dataclass

from crdt_model.adapter import actor_for


@dataclass(frozen=True, slots=True)
class Author:
    """The device and user making a change, and the time (epoch milliseconds) they made it."""

    device_id: str
    user_id: str
    at_ms: int

    @property
    def actor(self) -> bytes:
        """The Automerge actor id of this (device, user)."""
        return actor_for(self.device_id, self.user_id)

    def stamp(self) -> dict[str, str | int]:
        """The who/when fields stored on every entry."""
        return {"device": self.device_id, "user": self.user_id, "at": self.at_ms}
