"""Machine-readable benchmark results: every bench collects its figures here and, given
`--json FILE`, writes them for scripts/bench/all (which renders docs/benchmarks.md)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    budget: str | None = None  # as written for a reader, e.g. "< 250 ms"
    ok: bool | None = None  # None: a figure without a budget


@dataclass
class Results:
    bench: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, budget: str | None = None,
            ok: bool | None = None) -> bool:
        """Record one figure; returns `ok` (True when there is no budget) for chaining."""
        self.figures.append(Figure(name, round(float(value), 4), unit, budget, ok))
        return ok is not False

    def passed(self) -> bool:
        return all(f.ok is not False for f in self.figures)

    def write(self, path: Path | None) -> None:
        if path is None:
            return
        body = {"bench": self.bench, "command": sys.argv, "passed": self.passed(),
                "figures": [asdict(f) for f in self.figures], "notes": self.notes}
        path.write_text(json.dumps(body, indent=1) + "\n")
