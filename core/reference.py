"""Which reference-walkway measurements belong to which MoveScope analysis?

A clinic validating MoveScope walks patients over a GAITRite walkway (or through a motion-capture lab) while
filming them, exports the reference system's table, and wants each reference row next to the MoveScope
analysis of the same trial. This module answers that in three pure steps, with no database and no Streamlit:

1. **Read** the export: :func:`read_gaitrite_export` recognises GAITRite's own column names
   (``Velocity``, ``Cadence``, ``Stride Length(cm)/L`` ...; see :data:`GAITRITE_PARAMETERS`) and the
   identification columns (patient code, visit date or label, trial number); :func:`read_reference_csv`
   imports any other CSV through an explicit :class:`ColumnMapping` (source column -> GAITRite name, plus
   the unit of each source column, converted to MoveScope's units: cm, s, cm/s, steps/min, %, degrees).
   :func:`detect_gaitrite_mapping` gives the mapping the GAITRite reader would use, for a page to pre-fill.
2. **Validate** everything before anything is kept: unknown target names, columns missing from the file,
   unknown or impossible units, unparseable numbers, values outside the physiological range (which is how a
   column in metres labelled as centimetres shows up), empty identifiers and duplicate (patient, visit,
   trial) rows. All problems are collected and raised together as one :class:`ReferenceImportError`
   (an :class:`~core.errors.InputError`); a table is returned only when every row is valid, so nothing is
   ever half-imported.
3. **Match** rows to stored analyses by (patient, visit, trial) with :func:`match_reference`; rows without
   an analysis (and analyses without a row) are listed, never dropped silently.

Identifiers are compared without regard to case or surrounding spaces; a visit written as an ISO date
(``2024-03-01`` or ``2024-03-01 10:15``) is compared by its date; trial ``"01"``, ``"1.0"`` and ``1`` are the
same trial. Rows are numbered by their line in the file (the header is line 1), as a spreadsheet shows them.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from core.errors import InputError

# --- GAITRite parameters and units ---------------------------------------------------------------------

# Each quantity kind: MoveScope's unit and the factor that turns each accepted unit into it.
UNITS: dict[str, tuple[str, dict[str, float]]] = {
    "speed": ("cm/s", {"cm/s": 1.0, "m/s": 100.0, "mm/s": 0.1, "km/h": 100_000 / 3600}),
    "length": ("cm", {"cm": 1.0, "m": 100.0, "mm": 0.1}),
    "time": ("s", {"s": 1.0, "ms": 0.001}),
    "cadence": ("steps/min", {"steps/min": 1.0, "steps/s": 60.0}),
    "percent": ("%", {"%": 1.0, "fraction": 100.0}),
    "angle": ("deg", {"deg": 1.0, "rad": 180 / math.pi}),
}
# Spellings people (and GAITRite's own headers) use for the units above.
_UNIT_ALIASES = {
    "cm/sec": "cm/s",
    "m/sec": "m/s",
    "mm/sec": "mm/s",
    "kph": "km/h",
    "sec": "s",
    "second": "s",
    "seconds": "s",
    "msec": "ms",
    "millisecond": "ms",
    "milliseconds": "ms",
    "steps/minute": "steps/min",
    "step/min": "steps/min",
    "spm": "steps/min",
    "steps/sec": "steps/s",
    "step/s": "steps/s",
    "hz": "steps/s",
    "percent": "%",
    "pct": "%",
    "ratio": "fraction",
    "degree": "deg",
    "degrees": "deg",
    "°": "deg",
    "radian": "rad",
    "radians": "rad",
    "centimetre": "cm",
    "centimeter": "cm",
    "metre": "m",
    "meter": "m",
    "millimetre": "mm",
    "millimeter": "mm",
}


@dataclass(frozen=True)
class GaitriteParameter:
    """One GAITRite parameter: its kind, MoveScope's unit for it and the range a human walk can produce."""

    name: str
    kind: str  # key of UNITS
    low: float  # plausible range in ``unit``: outside it a value is refused (wrong unit, typo, artefact)
    high: float
    description: str

    @property
    def unit(self) -> str:
        return UNITS[self.kind][0]


def _gaitrite_parameters() -> dict[str, GaitriteParameter]:
    # Ranges are deliberately wide (slow patient gait to running) and chosen so that a column given in the
    # wrong unit (m instead of cm, ms instead of s, steps/s instead of steps/min) falls outside them.
    whole_body = [
        ("Velocity", "speed", 3.0, 400.0, "walking speed"),
        ("Cadence", "cadence", 20.0, 250.0, "steps per minute"),
    ]
    per_side = [
        ("Cycle Time(sec)", "time", 0.4, 5.0, "gait cycle (stride) duration"),
        ("Stride Length(cm)", "length", 10.0, 300.0, "heel to heel of the same foot"),
        ("Step Length(cm)", "length", 5.0, 150.0, "heel to heel of opposite feet"),
        ("Step Time(sec)", "time", 0.2, 3.0, "step duration"),
        ("HH Base Support(cm)", "length", 0.0, 60.0, "heel-to-heel base of support"),
        ("Swing % of Cycle", "percent", 0.0, 100.0, "swing phase, % of the cycle"),
        ("Stance % of Cycle", "percent", 0.0, 100.0, "stance phase, % of the cycle"),
        ("Double Supp % Cycle", "percent", 0.0, 100.0, "double support, % of the cycle"),
        ("Toe In / Out", "angle", -90.0, 90.0, "foot angle, toe out positive"),
        ("CV Stride Length", "percent", 0.0, 100.0, "coefficient of variation of stride length, %"),
        ("CV Stride Time", "percent", 0.0, 100.0, "coefficient of variation of stride time, %"),
    ]
    table = {name: GaitriteParameter(name, kind, lo, hi, text) for name, kind, lo, hi, text in whole_body}
    for base, kind, lo, hi, text in per_side:
        for side, word in (("L", "left"), ("R", "right")):
            table[f"{base}/{side}"] = GaitriteParameter(f"{base}/{side}", kind, lo, hi, f"{text}, {word}")
        # Without a side: the mean of both sides, for references that do not separate them (Mobilise-D's
        # stride length). MoveScope's name, not a GAITRite export column.
        table[base] = GaitriteParameter(base, kind, lo, hi, f"{text}, mean of both sides")
    return table


GAITRITE_PARAMETERS: dict[str, GaitriteParameter] = _gaitrite_parameters()
"""GAITRite parameter names as the gait seed used them (see ../shared/data/PROVENANCE.md), with their unit."""


def walkway_columns() -> dict[str, str]:
    """What a walkway reports for one trial - Velocity, Cadence and every per-side parameter - with units."""
    return {
        name: p.unit
        for name, p in GAITRITE_PARAMETERS.items()
        if name.endswith(("/L", "/R")) or name in ("Velocity", "Cadence")  # "Toe In / Out" has a slash too
    }


# Spellings of the identification columns in walkway exports, compared after removing all but letters and
# digits ("Patient ID" -> "patientid", "Test #" -> "test").
ID_ALIASES: dict[str, tuple[str, ...]] = {
    "patient": ("patientcode", "patientid", "patient", "id", "subject", "subjectid", "participant"),
    "visit": ("visit", "visitdate", "visitlabel", "testdate", "date", "session"),
    "trial": ("trial", "trialnumber", "trialno", "test", "testnumber", "testno", "testid", "pass"),
}
_MISSING = {"", "na", "n/a", "nan", "null", "none", "-", "--"}
MAX_PROBLEMS_SHOWN = 12
"""Problems spelled out in the error's one-line message; all of them are in ``.problems``."""


class ReferenceImportError(InputError):
    """A reference file was refused; ``problems`` lists every reason, one sentence each."""

    def __init__(self, problems: Sequence[str], what: str = "the reference file was not imported") -> None:
        self.problems = list(problems)
        shown = "; ".join(self.problems[:MAX_PROBLEMS_SHOWN])
        more = len(self.problems) - MAX_PROBLEMS_SHOWN
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        super().__init__(f"{what} ({count}): {shown}" + (f"; and {more} more" if more > 0 else ""))


# --- data types ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnMapping:
    """How to read a reference CSV: which columns identify a trial and which hold which GAITRite parameter.

    ``patient``, ``visit`` and ``trial`` name one source column each, or several whose values are joined
    with ``-`` (Mobilise-D: cohort and participant make the patient code). Without a ``trial`` column every
    row is trial ``"1"``. ``parameters`` maps source column -> GAITRite name; ``units`` gives a source
    column's unit when it is not MoveScope's (``{"walking_speed_m_s": "m/s"}``). ``keep_rows`` keeps only
    rows whose column has the given value (``{"reference_system": "INDIP"}``). ``visit_date_format``
    (``"%d/%m/%Y"``) parses the visit as a date, so it matches analyses by date.
    """

    patient: str | tuple[str, ...]
    visit: str | tuple[str, ...]
    parameters: Mapping[str, str]
    trial: str | tuple[str, ...] | None = None
    units: Mapping[str, str] = field(default_factory=dict)
    keep_rows: Mapping[str, str] = field(default_factory=dict)
    visit_date_format: str | None = None

    def to_dict(self) -> dict:
        return {
            "patient": _as_tuple(self.patient),
            "visit": _as_tuple(self.visit),
            "trial": _as_tuple(self.trial) if self.trial else None,
            "parameters": dict(self.parameters),
            "units": dict(self.units),
            "keep_rows": dict(self.keep_rows),
            "visit_date_format": self.visit_date_format,
        }


@dataclass(frozen=True)
class ReferenceRow:
    """One reference trial: who, when, which trial, and its parameters in MoveScope's units."""

    patient_code: str
    visit: str  # ISO date when the visit is a date, else the label as written
    trial: str
    values: Mapping[str, float]  # GAITRite name -> value; a parameter missing in the file is absent
    line: int  # line in the source file (header = 1)

    @property
    def key(self) -> tuple[str, str, str]:
        return trial_key(self.patient_code, self.visit, self.trial)

    def describe(self) -> str:
        return f"line {self.line} (patient {self.patient_code}, visit {self.visit}, trial {self.trial})"


@dataclass(frozen=True)
class ReferenceTable:
    """A fully validated reference import."""

    rows: tuple[ReferenceRow, ...]
    parameters: tuple[str, ...]  # GAITRite names present, in mapping order
    source: str  # "GAITRite export" or "CSV with column mapping"
    mapping: ColumnMapping
    conversions: tuple[str, ...] = ()  # e.g. "walking_speed_m_s: m/s -> cm/s (x100)"
    ignored_columns: tuple[str, ...] = ()  # columns of the file that were not imported

    def __len__(self) -> int:
        return len(self.rows)

    def to_frame(self):
        """A pandas table: ``patient_code``, ``visit``, ``trial``, ``line`` and one column per parameter."""
        import pandas as pd

        records = [
            {"patient_code": r.patient_code, "visit": r.visit, "trial": r.trial, "line": r.line}
            | {p: r.values.get(p, math.nan) for p in self.parameters}
            for r in self.rows
        ]
        return pd.DataFrame.from_records(
            records, columns=["patient_code", "visit", "trial", "line", *self.parameters]
        )

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "rows": len(self.rows),
            "parameters": {p: GAITRITE_PARAMETERS[p].unit for p in self.parameters},
            "conversions": list(self.conversions),
            "ignored_columns": list(self.ignored_columns),
            "mapping": self.mapping.to_dict(),
        }


# --- reading -------------------------------------------------------------------------------------------

Source = str | Path | bytes | IO[str] | IO[bytes]


def read_reference_csv(source: Source, mapping: ColumnMapping) -> ReferenceTable:
    """Import any reference CSV through an explicit column mapping; all rows or none (see module doc)."""
    header, rows = _read_csv(source)
    return _import(header, rows, mapping, source="CSV with column mapping")


def read_gaitrite_export(
    source: Source,
    *,
    patient: str | tuple[str, ...] | None = None,
    visit: str | tuple[str, ...] | None = None,
    trial: str | tuple[str, ...] | None = None,
    visit_date_format: str | None = None,
) -> ReferenceTable:
    """Import a GAITRite export: parameters by GAITRite's column names, identifiers by their usual names.

    Columns that are neither a GAITRite parameter nor an identifier (exports carry many more, e.g. distance
    or ambulation time) are not imported and are listed in ``ignored_columns``. Give ``patient``, ``visit``
    or ``trial`` when the identifier columns have other names.
    """
    header, rows = _read_csv(source)
    mapping = detect_gaitrite_mapping(header, patient=patient, visit=visit, trial=trial)
    if visit_date_format:
        mapping = replace(mapping, visit_date_format=visit_date_format)
    return _import(header, rows, mapping, source="GAITRite export")


def reference_columns(source: Source) -> list[str]:
    """The column names of a reference CSV, for a page's column-mapping step (InputError when unreadable)."""
    return _read_csv(source)[0]


def detect_gaitrite_mapping(
    columns: Sequence[str],
    *,
    patient: str | tuple[str, ...] | None = None,
    visit: str | tuple[str, ...] | None = None,
    trial: str | tuple[str, ...] | None = None,
) -> ColumnMapping:
    """The :class:`ColumnMapping` of a GAITRite export's header (pre-fills a page's mapping step).

    A header matches a GAITRite name ignoring case and spaces; a unit written in the header
    (``Stride Length(m)/L``) is honoured when it is a length unit and refused when it is not.
    Raises :class:`ReferenceImportError` when no GAITRite parameter or no identifier column is found.
    """
    problems: list[str] = []
    parameters: dict[str, str] = {}
    units: dict[str, str] = {}
    for column in columns:
        matched = _match_gaitrite_header(column)
        if matched is None:
            continue
        name, unit = matched
        kind = GAITRITE_PARAMETERS[name].kind
        if unit is not None and unit not in UNITS[kind][1]:
            problems.append(
                f"column {column!r} is in {unit!r}, which is not a unit of {kind} "
                f"(use one of {', '.join(UNITS[kind][1])})"
            )
            continue
        if name in parameters.values():
            first = next(c for c, n in parameters.items() if n == name)
            problems.append(f"columns {first!r} and {column!r} both hold {name}")
            continue
        parameters[column] = name
        if unit is not None and unit != GAITRITE_PARAMETERS[name].unit:
            units[column] = unit
    if not parameters and not problems:
        problems.append(
            "no GAITRite parameter columns (such as 'Velocity', 'Cadence', 'Stride Length(cm)/L'): "
            "import it as a CSV with a column mapping instead"
        )
    given = {"patient": patient, "visit": visit, "trial": trial}
    found: dict[str, str | tuple[str, ...] | None] = {}
    for role, aliases in ID_ALIASES.items():
        if given[role]:
            found[role] = given[role]
            continue
        candidates = [c for c in columns if _id_norm(c) in aliases and c not in parameters]
        if len(candidates) > 1:
            problems.append(
                f"several columns could be the {role} ({', '.join(candidates)}): name the one to use"
            )
        elif not candidates and role != "trial":
            problems.append(
                f"no {role} column (expected a column named like {', '.join(repr(a) for a in aliases[:3])})"
            )
        found[role] = candidates[0] if len(candidates) == 1 else None
    if problems:
        raise ReferenceImportError(problems, "this GAITRite export cannot be read")
    return ColumnMapping(
        patient=found["patient"] or "",
        visit=found["visit"] or "",
        trial=found["trial"],
        parameters=parameters,
        units=units,
    )


def _read_csv(source: Source) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and ``(line, cells)`` rows of a CSV with ``,``, ``;`` or tab delimiters."""
    if isinstance(source, (str, Path)):
        try:
            raw: str | bytes = Path(source).read_bytes()
        except OSError as error:
            raise InputError(f"cannot read {source}: {error.strerror or error}") from None
    elif isinstance(source, bytes):
        raw = source
    else:
        raw = source.read()
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")  # Windows exports (GAITRite runs on Windows)
    else:
        text = raw.lstrip("\ufeff")
    if not text.strip():
        raise InputError("the reference file is empty")
    if "\x00" in text:
        raise InputError("the reference file is not a text CSV (it contains binary data)")
    first_line = text.splitlines()[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        lines = [(reader.line_num, row) for row in reader]
    except csv.Error as error:
        raise InputError(f"the reference file is not a readable CSV: {error}") from None
    header = [c.strip() for c in lines[0][1]]
    # Spreadsheet exports often end every line with a delimiter: an unnamed, empty last column.
    trailing = 0
    while header and not header[-1]:
        header.pop()
        trailing += 1
    if trailing:
        lines[1:] = [
            (line, cells[: len(header)] if not any(c.strip() for c in cells[len(header) :]) else cells)
            for line, cells in lines[1:]
        ]
    problems = []
    duplicated = sorted({c for c in header if header.count(c) > 1 and c})
    if duplicated:
        problems.append(f"the header names column(s) {', '.join(map(repr, duplicated))} more than once")
    if any(not c for c in header):
        problems.append("the header has an unnamed column")
    rows = []
    for line, cells in lines[1:]:
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) != len(header):
            problems.append(f"line {line} has {len(cells)} fields but the header has {len(header)}")
            continue
        rows.append((line, cells))
    if not rows and not problems:
        problems.append("the file has a header but no data rows")
    if problems:
        raise ReferenceImportError(problems)
    return header, rows


# --- validation and import -----------------------------------------------------------------------------


def _import(
    header: list[str], rows: list[tuple[int, list[str]]], mapping: ColumnMapping, source: str
) -> ReferenceTable:
    problems: list[str] = []
    index = {c: i for i, c in enumerate(header)}

    def need(column: str, role: str) -> None:
        if column not in index:
            problems.append(f"the {role} column {column!r} is not in the file (columns: {', '.join(header)})")

    id_columns = {role: _as_tuple(getattr(mapping, role)) for role in ("patient", "visit", "trial")}
    for role in ("patient", "visit"):
        if not id_columns[role] or not all(id_columns[role]):
            problems.append(f"the mapping names no {role} column")
    for role, columns in id_columns.items():
        for column in columns:
            if column:
                need(column, role)
    for column in mapping.keep_rows:
        need(column, "row filter")

    # Parameter columns: known target, present source, known and possible unit.
    plan: list[tuple[str, str, float]] = []  # (source column, GAITRite name, factor to MoveScope's unit)
    conversions: list[str] = []
    targets: dict[str, str] = {}
    if not mapping.parameters:
        problems.append("the mapping names no parameter column")
    for column, target in mapping.parameters.items():
        need(column, "parameter")
        spec = GAITRITE_PARAMETERS.get(target)
        if spec is None:
            close = difflib.get_close_matches(target, GAITRITE_PARAMETERS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{target!r} (for column {column!r}) is not a GAITRite parameter{hint}")
            continue
        if target in targets:
            problems.append(f"columns {targets[target]!r} and {column!r} are both mapped to {target}")
            continue
        targets[target] = column
        given = mapping.units.get(column)
        unit = _unit_norm(given) if given is not None else spec.unit
        factors = UNITS[spec.kind][1]
        if unit not in factors:
            known = {u for _, (_, f) in UNITS.items() for u in f}
            reason = "an unknown unit" if unit not in known else f"not a unit of {spec.kind}"
            problems.append(
                f"column {column!r}: {given!r} is {reason} for {target} (use one of {', '.join(factors)})"
            )
            continue
        plan.append((column, target, factors[unit]))
        if factors[unit] != 1.0:
            conversions.append(f"{column}: {unit} -> {spec.unit} (x{factors[unit]:g})")
    for column in mapping.units:
        if column not in mapping.parameters:
            problems.append(f"a unit is given for column {column!r}, which is not mapped to a parameter")
    if problems:  # the mapping itself is wrong: row-by-row messages would only repeat it
        raise ReferenceImportError(problems)

    kept = [
        (line, cells)
        for line, cells in rows
        if all(cells[index[c]].strip() == v for c, v in mapping.keep_rows.items())
    ]
    if not kept:
        wanted = ", ".join(f"{c} = {v!r}" for c, v in mapping.keep_rows.items())
        raise ReferenceImportError([f"no row has {wanted}"])

    imported: list[ReferenceRow] = []
    # Out-of-range values are reported per column, not per cell: a whole column in the wrong unit is one
    # mistake, and a list of 40 identical sentences would hide the other problems.
    out_of_range: dict[tuple[str, str, float], list[tuple[int, str, float]]] = defaultdict(list)
    for line, cells in kept:
        before = len(problems)
        ids = {}
        for role, columns in id_columns.items():
            parts = [cells[index[c]].strip() for c in columns if c]
            if role == "trial" and not columns:
                parts = ["1"]
            if not parts or any(p.casefold() in _MISSING for p in parts):
                problems.append(f"line {line}: the {role} is empty")
            ids[role] = "-".join(parts)
        if mapping.visit_date_format and ids["visit"]:
            try:
                ids["visit"] = datetime.strptime(ids["visit"], mapping.visit_date_format).date().isoformat()
            except ValueError:
                problems.append(
                    f"line {line}: visit {ids['visit']!r} is not a date like {mapping.visit_date_format!r}"
                )
        values: dict[str, float] = {}
        refused = False
        for column, target, factor in plan:
            text = cells[index[column]].strip()
            if text.casefold() in _MISSING:
                continue
            number = _parse_number(text)
            if number is None:
                problems.append(f"line {line}: {column} = {text!r} is not a number")
                continue
            spec = GAITRITE_PARAMETERS[target]
            if not spec.low <= number * factor <= spec.high:
                out_of_range[(column, target, factor)].append((line, text, number * factor))
                refused = True
                continue
            values[target] = number * factor
        if not values and not refused and len(problems) == before:
            problems.append(f"line {line} has no parameter values")
        imported.append(
            ReferenceRow(
                patient_code=ids["patient"],
                visit=_visit_text(ids["visit"]),
                trial=_trial_text(ids["trial"]),
                values=values,
                line=line,
            )
        )
    for (column, target, factor), cases in out_of_range.items():
        spec = GAITRITE_PARAMETERS[target]
        line, text, value = cases[0]
        unit = mapping.units.get(column, spec.unit)
        example = f"{text} {unit}" + (f" = {value:g} {spec.unit}" if factor != 1.0 else "")
        lines = ", ".join(str(c[0]) for c in cases[:MAX_PROBLEMS_SHOWN]) + (
            ", ..." if len(cases) > MAX_PROBLEMS_SHOWN else ""
        )
        problems.append(
            f"{target} (column {column!r}): {len(cases)} value{'s' if len(cases) > 1 else ''} outside the "
            f"plausible {spec.low:g}-{spec.high:g} {spec.unit}, e.g. {example} on line {line} (lines {lines})"
            + _unit_hint(spec, [c[2] for c in cases])
        )

    by_key: dict[tuple[str, str, str], list[ReferenceRow]] = defaultdict(list)
    for row in imported:
        if row.patient_code and row.visit and row.trial:
            by_key[row.key].append(row)
    for same in by_key.values():
        if len(same) > 1:
            first = same[0]
            problems.append(
                f"patient {first.patient_code}, visit {first.visit}, trial {first.trial} appears "
                f"{len(same)} times (lines {', '.join(str(r.line) for r in same)}): keep one row per trial"
            )
    if problems:
        raise ReferenceImportError(problems)

    used = (
        {c for cols in id_columns.values() for c in cols} | set(mapping.parameters) | set(mapping.keep_rows)
    )
    return ReferenceTable(
        rows=tuple(imported),
        parameters=tuple(target for _, target, _ in plan),
        source=source,
        mapping=mapping,
        conversions=tuple(conversions),
        ignored_columns=tuple(c for c in header if c not in used),
    )


def _parse_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        # A decimal comma (European exports) when it is the only separator: "1,23" -> 1.23.
        if re.fullmatch(r"[+-]?\d+,\d+", text):
            return float(text.replace(",", "."))
        return None
    return value if math.isfinite(value) else None


def _unit_hint(spec: GaitriteParameter, values: Sequence[float]) -> str:
    """A guess at the unit mistake behind out-of-range values, when one unit factor explains them all."""
    for unit, factor in UNITS[spec.kind][1].items():
        if factor != 1.0 and all(spec.low <= v * factor <= spec.high for v in values):
            return f": is the column in {unit}? give its unit in the mapping"
    return ""


# --- matching ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnalysisRecord:
    """What the database knows about a stored MoveScope analysis, for matching."""

    patient_code: str
    visit: str | date | datetime  # visit date or label
    trial: str | int | None
    analysis_id: int | str


@dataclass(frozen=True)
class MatchedPair:
    analysis_id: int | str
    row: ReferenceRow


@dataclass(frozen=True)
class ReferenceMatch:
    """Reference rows paired with analyses, and what found no partner on either side."""

    pairs: tuple[MatchedPair, ...]
    unmatched_rows: tuple[ReferenceRow, ...]
    unmatched_analyses: tuple[Any, ...]

    def summary(self) -> str:
        """One sentence for the page: how many matched and which rows did not."""
        text = f"{len(self.pairs)} reference row{'s' if len(self.pairs) != 1 else ''} matched an analysis"
        if self.unmatched_rows:
            listed = "; ".join(r.describe() for r in self.unmatched_rows[:MAX_PROBLEMS_SHOWN])
            more = len(self.unmatched_rows) - MAX_PROBLEMS_SHOWN
            text += f"; {len(self.unmatched_rows)} did not: {listed}" + (
                f"; and {more} more" if more > 0 else ""
            )
        return text

    def to_dict(self) -> dict:
        return {
            "pairs": [{"analysis_id": p.analysis_id, "line": p.row.line} for p in self.pairs],
            "unmatched_rows": [
                {"line": r.line, "patient_code": r.patient_code, "visit": r.visit, "trial": r.trial}
                for r in self.unmatched_rows
            ],
            "unmatched_analyses": [_field(a, "analysis_id") for a in self.unmatched_analyses],
        }


def trial_key(patient_code: Any, visit: Any, trial: Any) -> tuple[str, str, str]:
    """The key a reference row and an analysis are matched on (case, spaces, date and trial spelling aside).

    For example ``trial_key(" P01", "2024-03-01 10:15", "01") == trial_key("p01", date(2024, 3, 1), 1)``.
    """
    return (
        str(patient_code).strip().casefold(),
        _visit_text(visit).casefold(),
        _trial_text(trial if trial is not None else "1").casefold(),
    )


def match_reference(
    rows: ReferenceTable | Iterable[ReferenceRow],
    analyses: Iterable[Any],
    *,
    require_all: bool = False,
) -> ReferenceMatch:
    """Pair each reference row with the stored analysis of the same patient, visit and trial.

    ``analyses`` are :class:`AnalysisRecord` or any objects or mappings with ``patient_code``, ``visit``,
    ``trial`` and ``analysis_id`` (database rows). Two analyses with the same key make the match ambiguous
    and raise :class:`ReferenceImportError`; so do unmatched rows when ``require_all`` is set. Otherwise the
    unmatched rows and analyses are returned, listed, for the page to show.
    """
    reference_rows = rows.rows if isinstance(rows, ReferenceTable) else tuple(rows)
    by_key: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for analysis in analyses:
        key = trial_key(
            _field(analysis, "patient_code"), _field(analysis, "visit"), _field(analysis, "trial")
        )
        by_key[key].append(analysis)
    ambiguous = [
        f"analyses {', '.join(str(_field(a, 'analysis_id')) for a in same)} are all patient "
        f"{_field(same[0], 'patient_code')}, visit {_visit_text(_field(same[0], 'visit'))}, trial "
        f"{_trial_text(_field(same[0], 'trial') or '1')}: keep one"
        for same in by_key.values()
        if len(same) > 1
    ]
    if ambiguous:
        raise ReferenceImportError(ambiguous, "the reference rows cannot be matched unambiguously")
    pairs, unmatched, used = [], [], set()
    for row in reference_rows:
        found = by_key.get(row.key)
        if found:
            pairs.append(MatchedPair(_field(found[0], "analysis_id"), row))
            used.add(row.key)
        else:
            unmatched.append(row)
    if require_all and unmatched:
        raise ReferenceImportError(
            [f"{row.describe()} has no MoveScope analysis" for row in unmatched],
            "not every reference row matches an analysis",
        )
    leftover = tuple(same[0] for key, same in by_key.items() if key not in used)
    return ReferenceMatch(tuple(pairs), tuple(unmatched), leftover)


def paired_table(
    match: ReferenceMatch,
    measured: Mapping[Any, Mapping[str, float]],
    parameters: Sequence[str] | None = None,
    reference_suffix: str = "_ref",
):
    """The paired table the agreement statistics read: per matched trial, ``P`` (MoveScope) and
    ``P_ref`` (reference) for each parameter ``P``, plus ``analysis_id``, ``patient_code``, ``visit``,
    ``trial`` (a pandas DataFrame; ``measured`` maps analysis id -> {GAITRite name: value})."""
    import pandas as pd

    names = list(parameters) if parameters else sorted({p for pair in match.pairs for p in pair.row.values})
    records = []
    for pair in match.pairs:
        ours = measured.get(pair.analysis_id, {})
        record: dict[str, Any] = {
            "analysis_id": pair.analysis_id,
            "patient_code": pair.row.patient_code,
            "visit": pair.row.visit,
            "trial": pair.row.trial,
        }
        for name in names:
            record[name] = float(ours.get(name, math.nan))
            record[name + reference_suffix] = float(pair.row.values.get(name, math.nan))
        records.append(record)
    columns = ["analysis_id", "patient_code", "visit", "trial"]
    columns += [c for name in names for c in (name, name + reference_suffix)]
    return pd.DataFrame.from_records(records, columns=columns)


# --- small helpers -------------------------------------------------------------------------------------

_HEADER = re.compile(r"^(?P<base>.*?)\s*(?:\((?P<unit>[^()]*)\))?\s*(?:/\s*(?P<side>[LR]))?$", re.IGNORECASE)


def _split_header(name: str) -> tuple[str, str | None, str | None]:
    """``"Stride Length(cm)/L"`` -> (``"stridelength"``, ``"cm"``, ``"l"``)."""
    m = _HEADER.match(name.strip())
    assert m is not None  # the pattern matches any string
    base = re.sub(r"\s+", "", m["base"]).casefold()
    unit = _unit_norm(m["unit"]) if m["unit"] else None
    return base, unit, (m["side"] or "").casefold() or None


def _match_gaitrite_header(column: str) -> tuple[str, str | None] | None:
    """The GAITRite name a header stands for and the unit the header states (None: GAITRite's own)."""
    base, unit, side = _split_header(column)
    name = _GAITRITE_BY_HEADER.get((base, side))
    if name is None:
        return None
    own = _split_header(name)[1]
    if unit is None or unit == own:
        return name, None
    return name, unit


def _unit_norm(unit: str) -> str:
    text = re.sub(r"\s+", "", unit).casefold()
    return _UNIT_ALIASES.get(text, text)


def _id_norm(column: str) -> str:
    return re.sub(r"[^0-9a-z]", "", column.casefold())


def _as_tuple(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if not value:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _visit_text(visit: Any) -> str:
    if isinstance(visit, datetime):
        return visit.date().isoformat()
    if isinstance(visit, date):
        return visit.isoformat()
    text = str(visit).strip()
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?", text)
    return m[1] if m else text


def _trial_text(trial: Any) -> str:
    text = str(trial).strip()
    if re.fullmatch(r"\d+(?:\.0*)?", text):
        return str(int(float(text)))
    return text


def _field(record: Any, name: str) -> Any:
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)


# GAITRite names by (base, side) of their header, for recognising an export's columns.
_GAITRITE_BY_HEADER = {(_split_header(n)[0], _split_header(n)[2]): n for n in GAITRITE_PARAMETERS}
