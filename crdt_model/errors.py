"""The one exception hierarchy of clinicmesh.

It lives in crdt_model, the lowest layer, so every other package can raise and catch it.

    ClinicMeshError
    ├── ValidationError      bad input from a form, a request or a file; names the field
    │   ├── InvalidFields    several fields wrong at once (each one a ValidationError)
    │   └── TooLarge         an upload over its size limit (an attachment)
    ├── NotFound             a patient, document or entry that does not exist here
    ├── CorruptDocument      bytes that do not load as an Automerge document, or a panic inside it
    ├── Forbidden            an act the user's roles do not allow (crdt_model.access)
    ├── ConflictError        an operation that contradicts the document's state (e.g. closing
    │   │                    an encounter twice)
    │   └── AllergyConflict  a prescription of a drug the patient has a recorded allergy to
    ├── StoreError           the device store can't be opened or written (wrong key, damage)
    └── SyncError            a peer or relay broke the protocol
"""

from __future__ import annotations


class ClinicMeshError(Exception):
    """Base of every error clinicmesh raises on purpose; `code` is stable for APIs."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(ClinicMeshError):
    """Input that breaks a rule; `field` names the offending field when there is one, `problem`
    says what is wrong with it (missing, too_long, out_of_range, invalid) and `limits` the
    bounds it broke (the most characters; the lowest and highest value)."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, problem: str = "invalid",
                 limits: tuple[float, ...] = ()) -> None:
        super().__init__(message, field=field)
        self.problem = problem
        self.limits = limits


class InvalidFields(ValidationError):
    """Every wrong field of one input, reported together; `errors` holds one per field (the
    first one's field, problem and limits are this error's own)."""

    def __init__(self, errors: list[ValidationError]) -> None:
        first = errors[0]
        super().__init__("; ".join(e.message for e in errors), field=first.field,
                         problem=first.problem, limits=first.limits)
        self.errors = errors


class TooLarge(ValidationError):
    """An upload (a photo, a document) bigger than the limit; nothing was stored."""

    code = "too_large"

    def __init__(self, message: str, *, field: str | None = None,
                 limits: tuple[float, ...] = ()) -> None:
        super().__init__(message, field=field, problem="too_large", limits=limits)


class NotFound(ClinicMeshError):
    """The thing asked for does not exist on this device."""

    code = "not_found"


class Forbidden(ClinicMeshError):
    """The acting user's roles do not allow this act."""

    code = "forbidden"


class CorruptDocument(ClinicMeshError):
    """Bytes that are not a valid Automerge document or change, or a document that panicked."""

    code = "corrupt_document"


class ConflictError(ClinicMeshError):
    """The operation contradicts the current state of the document."""

    code = "conflict"


class AllergyConflict(ConflictError):
    """A prescription clashes with recorded allergies; `substances` names them. Prescribing
    anyway needs an explicit override reason."""

    code = "allergy_conflict"

    def __init__(self, substances: list[str]) -> None:
        super().__init__(
            f"the patient is allergic to {', '.join(substances)}: give an override_reason to "
            "prescribe anyway", field="drug",
        )
        self.substances = substances


class StoreError(ClinicMeshError):
    """The encrypted store can't be opened (wrong key, damaged file) or written."""

    code = "store_error"


class SyncError(ClinicMeshError):
    """A peer or relay broke the sync protocol."""

    code = "sync_error"
