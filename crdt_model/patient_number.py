"""Short patient numbers for cards, paper forms and phone calls: `K7QD-0042-M`.

A number is `<device code>-<counter>-<check>`:

- the device code is the start of the Crockford base-32 SHA-256 of the id of the device that
  registered the patient: 4 characters, or more when another device of the roster shares them
  (`device_code`), so no two devices that know of each other mint under the same code;
- the counter counts the patients that device registered under that code (4 digits or more);
- the check character (Luhn mod 32) catches any one mistyped character and most swaps of two
  neighbours.

Why this is unique across the mesh although devices register while apart: a number is minted
by one device only, from its own code and its own counter, and the device that minted it is
the one that wrote the chart, so the counter is read back from its own charts (the core keeps
it per device). Two devices only share a code if their ids share 20 hash bits and each was
rostered where the other was unknown (two devices paired at the same time on two partitioned
members: about one chance in a million per such pair). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O or U
CODE_CHARS = 4
COUNTER_DIGITS = 4
_NUMBER = re.compile(r"([0-9A-Z]{4,})-(\d{4,})-([0-9A-Z])")


def _hashed(device_id: str) -> str:
    value = int.from_bytes(hashlib.sha256(device_id.encode()).digest()[:16], "big")
    chars = []
    for _ in range(25):  # 125 of the 128 bits
        value, digit = divmod(value, 32)
        chars.append(ALPHABET[digit])
    return "".join(chars)


def device_code(device_id: str, roster: Iterable[str] = ()) -> str:
    """The shortest start (at least 4 characters) of the device's hash that no other device of
    `roster` shares."""
    own = _hashed(device_id)
    others = [_hashed(d) for d in roster if d != device_id]
    length = CODE_CHARS
    while length < len(own) and any(o.startswith(own[:length]) for o in others):
        length += 1
    return own[:length]


def check_char(text: str) -> str:
    """The Luhn mod 32 check character of `text` (Crockford characters and digits)."""
    total = 0
    factor = 2
    for char in reversed(text):
        addend = factor * ALPHABET.index(char)
        total += addend // 32 + addend % 32
        factor = 1 if factor == 2 else 2
    return ALPHABET[(32 - total % 32) % 32]


def patient_number(code: str, counter: int) -> str:
    """The number of the `counter`-th patient registered under device `code`."""
    if counter < 1 or not code or any(c not in ALPHABET for c in code):
        raise ValueError(f"no patient number for {code!r} and {counter}")
    digits = f"{counter:0{COUNTER_DIGITS}d}"
    return f"{code}-{digits}-{check_char(code + digits)}"


def parse(number: str) -> tuple[str, int] | None:
    """(device code, counter) of a well-formed number with a right check character."""
    found = _NUMBER.fullmatch(number.strip().upper())
    if found is None:
        return None
    code, digits, check = found.groups()
    if any(c not in ALPHABET for c in code) or check_char(code + digits) != check:
        return None
    return code, int(digits)

