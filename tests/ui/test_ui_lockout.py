"""The wrong-PIN lock-out: counted before the check, per name and per device, kept on disk."""

from __future__ import annotations

from pathlib import Path

from ui_helpers import Clock

from ui.lockout import DEVICE_WINDOW_S, LOCKOUT_S, LockoutBook


def test_concurrent_attempts_are_reserved_before_any_check() -> None:
    book = LockoutBook(Clock())
    allowed = [book.reserve("Amina") == 0 for _ in range(1000)]
    assert sum(allowed) == 5


def test_each_lockout_doubles_and_a_right_pin_starts_afresh() -> None:
    clock = Clock()
    book = LockoutBook(clock)
    for round_ in range(3):
        for _ in range(5):
            assert book.reserve("amina") == 0
            book.wrong("Amina")
        assert book.wait_s("AMINA") == LOCKOUT_S * 2**round_
        clock.advance(book.wait_s("amina"))
    assert book.reserve("amina") == 0
    book.right("amina")
    for _ in range(5):
        book.reserve("amina")
        book.wrong("amina")
    assert book.wait_s("amina") == LOCKOUT_S


def test_cycling_through_names_locks_the_device() -> None:
    clock = Clock()
    book = LockoutBook(clock)
    for i in range(20):
        assert book.reserve(f"name{i}") == 0
        book.wrong(f"name{i}")
    assert book.wait_s("someone else") == LOCKOUT_S


def test_a_few_typos_an_hour_never_lock_the_device() -> None:
    clock = Clock()
    book = LockoutBook(clock)
    for i in range(60):
        assert book.reserve(f"nurse{i % 3}") == 0
        book.wrong(f"nurse{i % 3}")
        book.reserve(f"nurse{i % 3}")
        book.right(f"nurse{i % 3}")
        clock.advance(DEVICE_WINDOW_S / 10)


def test_counters_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    book = LockoutBook(clock, path=tmp_path / "lockout.json")
    for _ in range(5):
        book.reserve("Amina")
        book.wrong("Amina")
    reopened = LockoutBook(clock, path=tmp_path / "lockout.json")
    assert reopened.wait_s("amina") == LOCKOUT_S
    assert "amina" not in (tmp_path / "lockout.json").read_text().casefold()
