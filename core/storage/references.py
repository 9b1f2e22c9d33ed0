"""Reference measurements in the patient record: which walkway trial belongs to which MoveScope analysis.

A clinic judging MoveScope against its GAITRite walkway (or a motion-capture lab) needs the reference
system's values next to MoveScope's for the same trials, kept in the record so agreement can be recomputed
as trials accrue. :mod:`core.reference` reads and validates the export (a file with any invalid row never
gets here); this module stores it, all of it or nothing:

- **Patients must exist.** Each row's patient code must name a patient of this clinic (ignoring case and
  spaces). A code MoveScope does not know refuses the whole import, listing the codes and their lines:
  a typo in a walkway export must not create a phantom patient, so patients are created on purpose only.
- **Visits are looked up, never created.** A row's visit, written as a date or as a label, is the
  patient's visit with that date or label. A row whose visit or analysis does not exist (yet) is still
  imported, and listed as unmatched with the reason; it is matched automatically once the analysis is saved,
  because every save and every edit of a visit or analysis re-runs the matching for that patient
  (:func:`refresh_matches`, in the same transaction).
- **Trials pair by (patient, visit, trial)** as :func:`core.reference.match_reference` pairs them, with the
  gait analyses of the visit. A date or label that two visits of one patient share identifies neither;
  rows written with it stay unmatched and say so.
- **One measurement per trial and system.** A trial the same reference system already has is refused
  (delete the earlier import to replace it); the database enforces it too, so two sessions importing the
  same file at once cannot both succeed.
- Every write is one transaction with its audit row: any problem, and nothing is written.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from core.errors import InputError
from core.reference import (
    GAITRITE_PARAMETERS,
    AnalysisRecord,
    MatchedPair,
    ReferenceImportError,
    ReferenceMatch,
    ReferenceRow,
    ReferenceTable,
    match_reference,
    paired_table,
    trial_key,
)
from core.storage import (
    Database,
    Patient,
    ReferenceImport,
    ReferenceTrial,
    ReferenceValue,
    Result,
    Visit,
)
from core.storage.audit import write_audit

DEFAULT_SYSTEM = "GAITRite"
MAX_SYSTEM_LENGTH = 64
MAX_VISIT_LENGTH = 120
MAX_TRIAL_LENGTH = 64
MATCHED_KIND = "gait"  # reference walkway values describe gait analyses
PROBLEM_LINES_SHOWN = 8
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class PlannedTrial:
    """One reference row and where it lands in the record (``reason`` says why it matched no analysis)."""

    row: ReferenceRow
    patient_id: int | None
    visit_id: int | None
    analysis_id: int | None
    reason: str | None = None


@dataclass(frozen=True)
class ImportPlan:
    """What an import would do (preview), or did (``import_id`` set): matches, unmatched rows, problems."""

    system: str
    trials: tuple[PlannedTrial, ...]
    problems: tuple[str, ...]  # any problem refuses the whole import
    import_id: int | None = None

    @property
    def matched(self) -> list[PlannedTrial]:
        return [t for t in self.trials if t.analysis_id is not None]

    @property
    def unmatched(self) -> list[PlannedTrial]:
        return [t for t in self.trials if t.analysis_id is None]

    def summary(self) -> str:
        """One sentence for the page."""
        n, matched = len(self.trials), len(self.matched)
        verb = "were imported" if self.import_id is not None else "can be imported"
        text = f"{n} {self.system} trial{'s' if n != 1 else ''} {verb}; {matched} matched an analysis"
        if self.unmatched:
            text += f", {len(self.unmatched)} did not yet (listed below)"
        return text + "."

    def to_frame(self):
        """The rows as a pandas table for the page: line, patient, visit, trial, analysis, status."""
        import pandas as pd

        return pd.DataFrame.from_records(
            [
                {
                    "line": t.row.line,
                    "patient": t.row.patient_code,
                    "visit": t.row.visit,
                    "trial": t.row.trial,
                    "analysis": t.analysis_id,
                    "status": "matched" if t.analysis_id is not None else f"unmatched: {t.reason}",
                }
                for t in self.trials
            ],
            columns=["line", "patient", "visit", "trial", "analysis", "status"],
        )


@dataclass(frozen=True)
class ImportSummary:
    id: int
    system: str
    file_name: str
    file_format: str
    imported_at: datetime
    trials: int
    matched: int


# --- import ----------------------------------------------------------------------------------------------


def preview_reference_import(db: Database, table: ReferenceTable, system: str = DEFAULT_SYSTEM) -> ImportPlan:
    """What :func:`import_references` would store, and every reason it would refuse; writes nothing."""
    system = _check_system(system)
    with db.reading() as session:
        return _plan(session, table.rows, system)


def import_references(
    db: Database,
    table: ReferenceTable,
    *,
    file_name: str,
    system: str = DEFAULT_SYSTEM,
    file_sha256: str | None = None,
    require_match: bool = False,
) -> ImportPlan:
    """Store a validated reference table in one transaction; returns the plan with its ``import_id``.

    Raises :class:`~core.reference.ReferenceImportError` listing every problem (unknown patients, trials
    already imported, and with ``require_match`` rows without an analysis); then nothing is stored.
    """
    system = _check_system(system)
    try:
        with db.transaction() as session:
            plan = _plan(session, table.rows, system)
            problems = list(plan.problems)
            if require_match and plan.unmatched:
                problems += [f"{t.row.describe()}: {t.reason}" for t in plan.unmatched]
            if problems:
                raise ReferenceImportError(problems)
            batch = ReferenceImport(
                system=system,
                file_name=file_name,
                file_sha256=file_sha256,
                file_format=table.source,
                mapping=table.mapping.to_dict(),
                conversions=list(table.conversions),
            )
            session.add(batch)
            session.flush()
            for planned in plan.trials:
                row = planned.row
                _, visit_key, key_of_trial = row.key
                session.add(
                    ReferenceTrial(
                        import_id=batch.id,
                        patient_id=planned.patient_id,
                        visit_id=planned.visit_id,
                        analysis_id=planned.analysis_id,
                        system=system,
                        visit=row.visit,
                        visit_key=visit_key,
                        trial=row.trial,
                        trial_key=key_of_trial,
                        line=row.line,
                        values=[
                            ReferenceValue(name=name, value=value, unit=GAITRITE_PARAMETERS[name].unit)
                            for name, value in row.values.items()
                        ],
                    )
                )
            write_audit(
                session,
                "import",
                "reference_imports",
                batch.id,
                {
                    "system": system,
                    "file": file_name,
                    "trials": len(plan.trials),
                    "matched": len(plan.matched),
                    "unmatched_lines": [t.row.line for t in plan.unmatched],
                },
            )
            session.flush()
            return replace(plan, import_id=batch.id)
    except IntegrityError as error:
        raise InputError(
            "Another session imported some of these trials at the same moment; nothing was imported from "
            "this file. Look at the list of imports and import again if anything is missing."
        ) from error


def delete_reference_import(db: Database, import_id: int) -> int:
    """Delete an import and all its trials (to replace a wrong file); returns how many trials went."""
    with db.transaction() as session:
        batch = session.get(ReferenceImport, import_id, options=[selectinload(ReferenceImport.trials)])
        if batch is None:
            raise InputError("That reference import no longer exists")
        trials = len(batch.trials)
        write_audit(
            session,
            "delete",
            "reference_imports",
            import_id,
            {"system": batch.system, "file": batch.file_name, "trials": trials},
        )
        session.delete(batch)
    return trials


def reference_imports(db: Database) -> list[ImportSummary]:
    """Every import, newest first, with its number of trials and of matched trials."""
    with db.reading() as session:
        counts = (
            select(
                ReferenceTrial.import_id,
                func.count(ReferenceTrial.id).label("n"),
                func.count(ReferenceTrial.analysis_id).label("matched"),
            )
            .group_by(ReferenceTrial.import_id)
            .subquery()
        )
        rows = session.execute(
            select(ReferenceImport, counts.c.n, counts.c.matched)
            .outerjoin(counts, counts.c.import_id == ReferenceImport.id)
            .order_by(ReferenceImport.imported_at.desc(), ReferenceImport.id.desc())
        )
        return [
            ImportSummary(b.id, b.system, b.file_name, b.file_format, b.imported_at, n or 0, m or 0)
            for b, n, m in rows
        ]


def reference_systems(db: Database) -> list[str]:
    with db.reading() as session:
        return list(session.scalars(select(ReferenceTrial.system).distinct().order_by(ReferenceTrial.system)))


def unmatched_reference_trials(db: Database, system: str | None = None) -> list[PlannedTrial]:
    """Stored reference trials without an analysis, each with the reason (for the page's listing)."""
    with db.reading() as session:
        query = select(ReferenceTrial).where(ReferenceTrial.analysis_id.is_(None))
        if system is not None:
            query = query.where(ReferenceTrial.system == system)
        stored = list(session.scalars(query.order_by(ReferenceTrial.import_id, ReferenceTrial.line)))
        codes = _codes(session, {t.patient_id for t in stored})
        rows = [(_stored_row(t, codes[t.patient_id]), t.patient_id, t.system) for t in stored]
        return _match(session, rows)[0]


def reference_pairs(db: Database, system: str = DEFAULT_SYSTEM, parameters: Sequence[str] | None = None):
    """The paired table the agreement statistics read (:func:`core.reference.paired_table`): one row per
    matched trial of ``system``, ``P`` (MoveScope) and ``P_ref`` (reference) for each parameter ``P``."""
    with db.reading() as session:
        stored = session.scalars(
            select(ReferenceTrial)
            .where(ReferenceTrial.system == system, ReferenceTrial.analysis_id.is_not(None))
            .options(selectinload(ReferenceTrial.values))
            .order_by(ReferenceTrial.patient_id, ReferenceTrial.visit_key, ReferenceTrial.trial_key)
        ).all()
        codes = _codes(session, {t.patient_id for t in stored})
        pairs = tuple(
            MatchedPair(
                t.analysis_id,
                replace(_stored_row(t, codes[t.patient_id]), values={v.name: v.value for v in t.values}),
            )
            for t in stored
        )
        measured: dict[int, dict[str, float]] = defaultdict(dict)
        results = session.execute(
            select(Result.analysis_id, Result.name, Result.value).where(
                Result.analysis_id.in_([t.analysis_id for t in stored]), Result.value.is_not(None)
            )
        )
        for analysis_id, name, value in results:
            measured[analysis_id][name] = value
    return paired_table(ReferenceMatch(pairs, (), ()), measured, parameters)


# --- matching --------------------------------------------------------------------------------------------


def refresh_matches(session: Session, patient_ids: Collection[int]) -> int:
    """Re-match the stored reference trials of these patients to their current visits and analyses.

    Runs inside the caller's transaction (a save or an edit), so a trial whose analysis has just been saved
    is matched with it, and one whose analysis moved or was renumbered follows it. Returns how many trials
    changed; an audit row lists them.
    """
    stored = list(
        session.scalars(select(ReferenceTrial).where(ReferenceTrial.patient_id.in_(list(patient_ids))))
    )
    if not stored:
        return 0
    codes = _codes(session, set(patient_ids))
    planned, _ = _match(
        session, [(_stored_row(t, codes[t.patient_id]), t.patient_id, t.system) for t in stored]
    )
    changed = []
    for trial, plan in zip(stored, planned, strict=True):
        if (trial.visit_id, trial.analysis_id) != (plan.visit_id, plan.analysis_id):
            trial.visit_id, trial.analysis_id = plan.visit_id, plan.analysis_id
            changed.append({"reference_trial": trial.id, "analysis": plan.analysis_id})
    if changed:
        write_audit(session, "match", "reference_trials", None, {"changes": changed})
    return len(changed)


def _plan(session: Session, rows: Sequence[ReferenceRow], system: str) -> ImportPlan:
    problems: list[str] = []
    by_code: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for patient_id, code in session.execute(select(Patient.id, Patient.code)):
        by_code[code.strip().casefold()].append((patient_id, code))
    unknown: dict[str, list[int]] = defaultdict(list)
    placed: list[tuple[ReferenceRow, int]] = []
    for row in rows:
        found = by_code.get(row.patient_code.strip().casefold(), [])
        if len(found) == 1:
            placed.append((row, found[0][0]))
        elif found:
            problems.append(
                f"line {row.line}: patient codes {', '.join(c for _, c in found)} differ only in case, "
                f"so {row.patient_code!r} is ambiguous: rename one of those patients"
            )
        else:
            unknown[row.patient_code].append(row.line)
        if len(row.visit) > MAX_VISIT_LENGTH:
            problems.append(f"line {row.line}: the visit is longer than {MAX_VISIT_LENGTH} characters")
        if len(row.trial) > MAX_TRIAL_LENGTH:
            problems.append(f"line {row.line}: the trial is longer than {MAX_TRIAL_LENGTH} characters")
    for code, lines in unknown.items():
        problems.append(
            f"patient {code!r} ({_lines(lines)}) is not in MoveScope: create the patient first or correct "
            "the code (patients are never created from a reference file)"
        )

    # Compared with what the same system already has for these patients: a trial may be written by its
    # visit's date in one file and by its label in another, and must still be measured only once.
    stored = list(
        session.scalars(
            select(ReferenceTrial)
            .where(
                ReferenceTrial.system == system,
                ReferenceTrial.patient_id.in_({patient_id for _, patient_id in placed}),
            )
            .options(selectinload(ReferenceTrial.reference_import))
        )
    )
    codes = _codes(session, {t.patient_id for t in stored})
    everything = [(row, patient_id, system) for row, patient_id in placed] + [
        (_stored_row(t, codes[t.patient_id]), t.patient_id, system) for t in stored
    ]
    matched, conflicts = _match(session, everything)
    for group in conflicts:
        new = [i for i in group if i < len(placed)]
        earlier = [stored[i - len(placed)] for i in group if i >= len(placed)]
        if earlier:
            batch = earlier[0].reference_import
            problems += [
                f"{placed[i][0].describe()} is already in MoveScope from {batch.file_name} (import "
                f"{batch.id}, {batch.imported_at:%Y-%m-%d}): delete that import first to replace it"
                for i in new
            ]
        elif new:
            problems.append(
                f"lines {', '.join(str(placed[i][0].line) for i in new)} are the same trial "
                f"({matched[new[0]].row.describe().split('(', 1)[1]}: keep one row"
            )
    trials = matched[: len(placed)]
    # Rows refused for their patient are still listed, unplaced, so the preview shows every line.
    placed_rows = {id(row) for row, _ in placed}
    refused = [PlannedTrial(r, None, None, None, "unknown patient") for r in rows if id(r) not in placed_rows]
    ordered = sorted([*trials, *refused], key=lambda t: t.row.line)
    return ImportPlan(system, tuple(ordered), tuple(problems))


def _match(
    session: Session, rows: Sequence[tuple[ReferenceRow, int, str]]
) -> tuple[list[PlannedTrial], list[list[int]]]:
    """Each (row, patient id, system)'s visit and gait analysis among its patient's, in the order given,
    and the groups of row indices that are one and the same trial of one system (left unmatched)."""
    patient_ids = {patient_id for _, patient_id, _ in rows}
    visits = session.scalars(
        select(Visit)
        .where(Visit.patient_id.in_(patient_ids))
        .options(selectinload(Visit.analyses), selectinload(Visit.patient))
    ).all()
    # A date or label names a visit only when no other visit of the patient has it.
    owners: dict[tuple[int, str], list[Visit]] = defaultdict(list)
    for visit in visits:
        for key in _visit_keys(visit):
            owners[(visit.patient_id, key)].append(visit)
    candidates: dict[int, list[AnalysisRecord]] = defaultdict(list)
    for (patient_id, key), same in owners.items():
        if len(same) == 1:
            for analysis in same[0].analyses:
                if analysis.kind == MATCHED_KIND:
                    record = AnalysisRecord(same[0].patient.code, key, analysis.trial, analysis.id)
                    candidates[patient_id].append(record)
    visit_of_analysis = {a.id: v.id for v in visits for a in v.analyses}
    rows_of: dict[int, list[ReferenceRow]] = defaultdict(list)
    for row, patient_id, _ in rows:
        rows_of[patient_id].append(row)
    analysis_of_row: dict[int, int] = {}
    # Matched patient by patient: two patients whose codes differ only in case never meet here.
    for patient_id, patient_rows in rows_of.items():
        for pair in match_reference(patient_rows, candidates[patient_id]).pairs:
            analysis_of_row[id(pair.row)] = int(pair.analysis_id)
    planned = []
    same_trial: dict[tuple, list[int]] = defaultdict(list)
    for i, (row, patient_id, system) in enumerate(rows):
        analysis_id = analysis_of_row.get(id(row))
        same = owners.get((patient_id, row.key[1]), [])
        visit_id = visit_of_analysis[analysis_id] if analysis_id else same[0].id if len(same) == 1 else None
        planned.append(PlannedTrial(row, patient_id, visit_id, analysis_id, _why_unmatched(row, same)))
        if analysis_id is not None:
            same_trial[(system, "analysis", analysis_id)].append(i)
        elif visit_id is not None:
            same_trial[(system, "visit", visit_id, row.key[2])].append(i)
        else:
            same_trial[(system, "key", patient_id, *row.key[1:])].append(i)
    conflicts = [group for group in same_trial.values() if len(group) > 1]
    for group in conflicts:
        lines = ", ".join(str(rows[i][0].line) for i in group)
        reason = f"{len(group)} {rows[group[0]][2]} rows (lines {lines}) are this same trial: delete one"
        for i in group:
            planned[i] = replace(planned[i], analysis_id=None, reason=reason)
    return [replace(p, reason=None) if p.analysis_id else p for p in planned], conflicts


def _why_unmatched(row: ReferenceRow, visits: Sequence[Visit]) -> str:
    if not visits:
        by = "on" if _ISO_DATE.fullmatch(row.visit) else "labelled"
        return f"patient {row.patient_code} has no visit {by} {row.visit}"
    if len(visits) > 1:
        return f"{len(visits)} visits of patient {row.patient_code} are {row.visit}: write the visit's label"
    return f"the visit has no gait analysis trial {row.trial}"


def _visit_keys(visit: Visit) -> set[str]:
    keys = {trial_key("", visit.visit_date, "")[1]}
    if visit.label:
        keys.add(trial_key("", visit.label, "")[1])
    return keys


def _stored_row(trial: ReferenceTrial, code: str) -> ReferenceRow:
    return ReferenceRow(patient_code=code, visit=trial.visit, trial=trial.trial, values={}, line=trial.line)


def _codes(session: Session, patient_ids: Collection[int]) -> dict[int, str]:
    query = select(Patient.id, Patient.code).where(Patient.id.in_(list(patient_ids)))
    return {patient_id: code for patient_id, code in session.execute(query)}


def _check_system(system: str) -> str:
    system = (system or "").strip()
    if not system:
        raise InputError("Name the reference system the file comes from (for example GAITRite)")
    if len(system) > MAX_SYSTEM_LENGTH:
        raise InputError(f"The reference system's name is longer than {MAX_SYSTEM_LENGTH} characters")
    return system


def _lines(lines: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:PROBLEM_LINES_SHOWN])
    more = f" and {len(lines) - PROBLEM_LINES_SHOWN} more" if len(lines) > PROBLEM_LINES_SHOWN else ""
    return f"line{'s' if len(lines) > 1 else ''} {shown}{more}"
