"""Small server-drawn SVG charts (vital-sign trends, report bars): no JavaScript, no library.

Labels go through Jinja's autoescaping in the templates; only numbers are formatted here.
"""

from __future__ import annotations

from dataclasses import dataclass

TREND_WIDTH = 240
TREND_HEIGHT = 60
TREND_PAD = 6
BAR_MAX_WIDTH = 200


@dataclass(frozen=True, slots=True)
class Trend:
    """A polyline for a series of values, with its min and max for the caption."""

    points: str
    dots: tuple[tuple[float, float], ...]
    low: float
    high: float
    width: int = TREND_WIDTH
    height: int = TREND_HEIGHT


def trend(values: list[float]) -> Trend | None:
    """The polyline of `values` (oldest first) scaled into the box; None for fewer than 2."""
    if len(values) < 2:
        return None
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (TREND_WIDTH - 2 * TREND_PAD) / (len(values) - 1)
    dots = tuple(
        (round(TREND_PAD + i * step, 1),
         round(TREND_HEIGHT - TREND_PAD - (v - low) / span * (TREND_HEIGHT - 2 * TREND_PAD), 1))
        for i, v in enumerate(values)
    )
    return Trend(" ".join(f"{x},{y}" for x, y in dots), dots, low, high)


def bar_widths(counts: dict[str, int]) -> dict[str, int]:
    """Pixel widths of horizontal bars, the largest count at BAR_MAX_WIDTH."""
    top = max(counts.values(), default=0)
    if top <= 0:
        return dict.fromkeys(counts, 0)
    return {key: max(2, round(n / top * BAR_MAX_WIDTH)) if n else 0 for key, n in counts.items()}
