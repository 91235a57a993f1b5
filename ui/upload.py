"""A posted upload form (multipart: a photo, a scanned document) read as a stream: its text
fields and one file, whose bytes are kept up to the attachment limit only."""

from __future__ import annotations

from aiohttp import BodyPartReader, web

from crdt_model.attachments import MAX_ATTACHMENT_BYTES, megabytes
from ui.i18n import gettext as _
from ui.web import UPLOAD

READ_BYTES = 256 * 1024
FIELD_BYTES = 512  # the text fields of an upload form are short: words, names, paths
# Past this the rest of an over-limit upload is not read: the connection is dropped.
DRAIN_LIMIT_BYTES = 8 * MAX_ATTACHMENT_BYTES


def too_big_message(size: int) -> str:
    """What a user reads when a file is over the limit (also shown by the page's script)."""
    return _("The file is %(size)s MB; the largest a chart takes is %(limit)s MB. Take the "
             "photo or scan again at a lower resolution, or split the document.") % {
        "size": megabytes(size), "limit": megabytes(MAX_ATTACHMENT_BYTES)}


class Upload:
    """The fields of an upload form and its file (the part named `file_field`), read from the
    stream in order."""

    def __init__(self, file_field: str = "file") -> None:
        self.file_field = file_field
        self.fields: dict[str, str] = {}
        self.data = b""
        self.size = 0
        self.name = ""
        self.content_type = ""

    async def read(self, request: web.Request) -> None:
        """Read the fields and the file; the file's bytes are kept up to the limit only."""
        reader = request.get(UPLOAD)
        if reader is None:
            return
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == self.file_field and part.filename is not None:
                if not self.size:
                    await self._file(part)
            elif part.name:
                self.fields[part.name] = await _text(part)

    async def _file(self, part: BodyPartReader) -> None:
        self.name = part.filename or ""
        self.content_type = part.headers.get("Content-Type", "")
        kept = []
        while (chunk := await part.read_chunk(READ_BYTES)):
            self.size += len(chunk)
            if self.size > DRAIN_LIMIT_BYTES:
                break
            if self.size <= MAX_ATTACHMENT_BYTES:
                kept.append(chunk)
        self.data = b"".join(kept)


async def _text(part: BodyPartReader) -> str:
    """A text field, its first FIELD_BYTES bytes (the rest is read and dropped)."""
    kept = b""
    while (chunk := await part.read_chunk(FIELD_BYTES)):
        kept = (kept + chunk)[:FIELD_BYTES]
    return kept.decode("utf-8", "replace")
