"""Photos and documents on a chart: the chart holds references, never the bytes.

An `attachment` entry names a content-addressed blob (its SHA-256), with the file's name,
content type, size and purpose (`photo` of the patient, or a `document`: a scanned referral,
an imaging report, a PDF). The bytes live beside the documents in the device store and travel
between devices on their own (docs/ARCHITECTURE.md §3, §5), so a chart stays small and syncs
first. Like every entry, a reference is never changed or deleted: one added in error is voided.
Pure: the caller hashes the bytes and passes time, author and id.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from crdt_model.adapter import Doc
from crdt_model.chart_doc import (
    append_entry,
    chart_root,
    entries_of,
    order_key,
    require_chart,
    status_of,
)
from crdt_model.context import Author
from crdt_model.errors import InvalidFields, ValidationError
from crdt_model.ids import check_entry_id
from crdt_model.validate import reject_unknown, require_mapping, text

ATTACHMENT = "attachment"
PURPOSES = ("photo", "document")
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_FILE_NAME_CHARS = 200
_SHA256 = re.compile(r"[0-9a-f]{64}")
# type/subtype with the characters RFC 6838 allows; parameters (charset=…) are dropped.
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
_FIELDS = ("sha256", "name", "content_type", "size", "purpose", "encounter_id")


def sha256_hex(value: object, field: str = "sha256") -> str:
    """A SHA-256 digest as 64 lowercase hex characters."""
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise ValidationError("a SHA-256 is 64 lowercase hex characters", field=field)
    return value


def content_type(value: object, field: str = "content_type") -> str:
    """A MIME type such as image/jpeg or application/pdf, lowercased, without parameters."""
    clean = value.split(";", 1)[0].strip().lower() if isinstance(value, str) else ""
    if not _CONTENT_TYPE.fullmatch(clean):
        raise ValidationError("the content type must look like image/jpeg or application/pdf",
                              field=field)
    return clean


def attachment_size(value: object, field: str = "size") -> int:
    """A size in bytes: more than nothing, at most MAX_ATTACHMENT_BYTES."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValidationError("an attachment must not be empty", field=field, problem="missing")
    if value > MAX_ATTACHMENT_BYTES:
        raise ValidationError(
            f"the file is {megabytes(value)} MB; the largest a chart takes is "
            f"{megabytes(MAX_ATTACHMENT_BYTES)} MB", field=field, problem="out_of_range",
            limits=(1, MAX_ATTACHMENT_BYTES))
    return value


# The photo formats every browser shows, by their first bytes (a file's name and declared type
# are not trusted: a camera or a file picker may say anything).
_IMAGE_SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
                     (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"))


def image_type(data: bytes) -> str | None:
    """The content type of a JPEG, PNG, GIF or WebP image by its first bytes, else None."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return next((kind for magic, kind in _IMAGE_SIGNATURES if data.startswith(magic)), None)


def photo_type(data: bytes, field: str = "photo") -> str:
    """The content type of a patient photo (JPEG, PNG, GIF or WebP, read from its bytes);
    ValidationError when the bytes are not one of these images or are over the limit."""
    attachment_size(len(data), field)
    kind = image_type(data)
    if kind is None:
        raise ValidationError("a photo must be a JPEG, PNG, GIF or WebP image", field=field,
                              problem="not_image")
    return kind


def megabytes(size: int) -> str:
    """A size in MB with one decimal, for messages."""
    return f"{size / (1024 * 1024):.1f}"


def attachment_entry(data: object) -> dict[str, Any]:
    """A clean attachment reference {sha256, name, content_type, size, purpose,
    encounter_id?}; every wrong field at once."""
    raw = require_mapping(data)
    reject_unknown(raw, _FIELDS)
    clean: dict[str, Any] = {}
    errors: list[ValidationError] = []
    checks = (("sha256", sha256_hex), ("name", _file_name), ("content_type", content_type),
              ("size", attachment_size))
    for key, check in checks:
        try:
            clean[key] = check(raw.get(key), key)
        except ValidationError as exc:
            errors.append(exc)
    purpose = raw.get("purpose", "document")
    if purpose not in PURPOSES:
        errors.append(ValidationError("purpose is photo or document", field="purpose"))
    clean["purpose"] = purpose
    if "encounter_id" in raw:
        try:
            clean["encounter_id"] = check_entry_id(raw["encounter_id"], "encounter_id")
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        raise InvalidFields(errors)
    return clean


def _file_name(value: object, field: str) -> str:
    # Only the last part of a path: a browser may send C:\fakepath\scan.pdf.
    base = re.split(r"[\\/]", value)[-1] if isinstance(value, str) else value
    return text(base, field, max_chars=MAX_FILE_NAME_CHARS)


def add_attachment(doc: Doc, data: object, author: Author, entry_id: str) -> list[bytes]:
    """Record a reference to a stored blob {sha256, name, content_type, size, purpose?}."""
    clean = attachment_entry(data)
    check_entry_id(entry_id)
    require_chart(doc)
    return append_entry(doc, entry_id, ATTACHMENT, clean, author)


def attachments_of(root: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The chart's live attachment references, oldest first (voided ones left out): what a
    device must hold the blobs of, and what the chart shows."""
    entries = entries_of(root)
    status = status_of(entries)
    found = [
        (order_key(k, e), {**e, "id": k}) for k, e in entries.items()
        if e.get("kind") == ATTACHMENT and status.live(k)
        and isinstance(e.get("sha256"), str) and _SHA256.fullmatch(e["sha256"])
    ]
    return [view for _, view in sorted(found, key=lambda pair: pair[0])]


def chart_attachments(doc: Doc) -> list[dict[str, Any]]:
    """`attachments_of` the chart `doc`."""
    return attachments_of(chart_root(doc))
