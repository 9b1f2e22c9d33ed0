"""Gait results as a CSV a gait lab's tools read: GAITRite column names, one row per trial.

The file reads back with :func:`core.reference.read_gaitrite_export` (tested), so MoveScope's own exports
can be compared with walkway exports on the Agreement page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence

from core.reference import walkway_columns

ID_COLUMNS = ("Patient ID", "Test Date", "Test #")


def gaitrite_csv(trials: Sequence[Mapping]) -> str:
    """``trials``: dicts with ``patient``, ``visit`` (ISO date or label), ``trial`` and ``parameters``
    (GAITRite name -> value, or the JSON contract's ``{"value": ...}``). Parameters not measured are empty."""
    columns = list(walkway_columns())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*ID_COLUMNS, *columns])
    for trial in trials:
        values = {
            name: (p.get("value") if isinstance(p, Mapping) else p) for name, p in trial["parameters"].items()
        }
        writer.writerow(
            [
                trial["patient"],
                trial["visit"],
                trial["trial"],
                *("" if values.get(c) is None else f"{values[c]:.4f}" for c in columns),
            ]
        )
    return out.getvalue()
