"""``python -m core agreement CSV``: agreement of MoveScope with a reference system, parameter by parameter.

Reads a paired CSV - one row per trial, a column per MoveScope parameter and its reference partner
(``Velocity`` and ``Velocity_ref``, or pairs named with ``--pairs``) - and reports, per parameter, the number
of pairs, all six ICC forms with their 95% CI and band, Bland-Altman (bias, limits of agreement with CIs,
proportional bias), Lin's CCC, Pearson r, MAE, RMSE and R^2 (see :mod:`core.agreement`). A file that cannot
be read or paired ends with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.errors import InputError


def add_cli(subparsers) -> None:
    parser = subparsers.add_parser(
        "agreement",
        help="ICC / Bland-Altman agreement of paired MoveScope and reference columns",
        description=(
            "Agreement of MoveScope with a reference system, per gait parameter: ICC (six forms, 95% CI, "
            "band), Bland-Altman (bias, limits of agreement with CIs, proportional bias), Lin's CCC, "
            "Pearson r, MAE, RMSE and R^2. The CSV has one row per trial and a column per parameter with "
            "its reference partner (Velocity and Velocity_ref), or pairs named with --pairs."
        ),
    )
    parser.add_argument("csv", help="paired CSV: one row per trial")
    parser.add_argument("--json", metavar="OUT", help="write the report here (default: standard output)")
    parser.add_argument(
        "--reference-suffix",
        default="_ref",
        help="a column X is paired with X<suffix> (default: _ref, e.g. Velocity and Velocity_ref)",
    )
    parser.add_argument(
        "--pairs",
        metavar="M:R,...",
        help='explicit pairs of MoveScope:reference columns, e.g. "Velocity:GR Velocity,Cadence:GR Cadence"',
    )
    parser.add_argument(
        "--scale", choices=("difference", "ratio"), default="difference", help="Bland-Altman scale"
    )
    parser.add_argument(
        "--ci-method",
        choices=("exact", "approximate", "approximate-1986"),
        default="exact",
        help="confidence intervals of the limits of agreement (default: exact)",
    )
    parser.add_argument(
        "--points", action="store_true", help="include the Bland-Altman points (means, differences)"
    )
    parser.set_defaults(func=run)


def parse_pairs(text: str) -> dict[str, str]:
    """``"A:B,C:D"`` -> ``{"A": "B", "C": "D"}``; InputError on anything else."""
    pairs: dict[str, str] = {}
    for item in text.split(","):
        measured, sep, reference = item.partition(":")
        if not sep or not measured.strip() or not reference.strip():
            raise InputError(f"--pairs item {item.strip()!r} is not MEASURED:REFERENCE")
        pairs[measured.strip()] = reference.strip()
    return pairs


def read_paired_csv(path: str | Path):
    """The paired CSV as a pandas DataFrame (``,``, ``;`` or tab delimited); InputError when unreadable."""
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as file:
            first_line = file.readline()
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a CSV file") from None
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    if not first_line.strip():
        raise InputError(f"{path} is empty")
    delimiter = max((",", ";", "\t"), key=first_line.count)

    import pandas as pd  # here, so a missing file is reported without loading pandas

    try:
        return pd.read_csv(path, sep=delimiter, skipinitialspace=True, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{path} is not a readable CSV: {reason}") from None


def run(args: argparse.Namespace) -> dict:
    frame = read_paired_csv(args.csv)
    from core.agreement import agreement_report  # scipy loads only once there is something to compute

    pairs = parse_pairs(args.pairs) if args.pairs else None
    report = agreement_report(
        frame, pairs=pairs, reference_suffix=args.reference_suffix, scale=args.scale, ci_method=args.ci_method
    )
    if all(p.message for p in report):
        reasons = "; ".join(f"{p.parameter}: {p.message}" for p in report)
        raise InputError(f"no parameter could be analysed: {reasons}")
    return {
        "file": str(args.csv),
        "rows": len(frame),
        "scale": args.scale,
        "ci_method": args.ci_method,
        "primary_icc": "ICC(2,1)",
        "parameters": {p.parameter: p.to_dict(points=args.points) for p in report},
    }
