"""What the benchmarks share: their command-line options, torch threads, runs in fresh processes,
JSON-line results and the mean ± sd tables made of them, timing, and settings written as
``NAME:key=value,...``."""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np


# ---- command line -----------------------------------------------------------------------------
def add_seeds(ap: argparse.ArgumentParser, default=(0, 1, 2)) -> None:
    ap.add_argument("--seeds", type=int, nargs="+", default=list(default))


def add_split(ap: argparse.ArgumentParser, default: str = "dev", help: str | None = None) -> None:
    ap.add_argument("--split", default=default, choices=["dev", "eval"], help=help)


def add_threads(ap: argparse.ArgumentParser, default: int = 2, help: str = "torch threads per run") -> None:
    ap.add_argument("--threads", type=int, default=default, help=help)


def add_out(ap: argparse.ArgumentParser, help: str = "append the JSON lines here too") -> None:
    ap.add_argument("--out", type=Path, default=None, help=help)


def summary_only(argv, summary) -> bool:
    """When the command line (``argv``, default the process's) is ``--summary FILE`` alone, print
    ``summary(FILE)`` and say so: for benchmarks whose other options are required when they run."""
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) == 2 and args[0] == "--summary":
        print(summary(Path(args[1])))
        return True
    return False


def parse_settings(spec: str) -> tuple[str, dict]:
    """``NAME:key=value,...`` as the name and typed settings: true/false, whole numbers, other
    numbers, else the word itself."""
    name, _, rest = spec.partition(":")
    settings = {}
    for item in filter(None, rest.split(",")):
        key, value = item.split("=")
        settings[key] = typed(value)
    return name, settings


def typed(text: str):
    """``"true"``/``"false"`` as a bool, ``"3"`` as an int, ``"0.5"`` or ``"1e-3"`` as a float, else the text."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


# ---- running ----------------------------------------------------------------------------------
def set_threads(n: int, children: bool = False) -> None:
    """Torch threads of this process; with ``children`` also of the processes it starts (OpenMP)."""
    if children:
        os.environ["OMP_NUM_THREADS"] = str(n)
    import torch

    torch.set_num_threads(n)


def seconds_since(t0: float, digits: int = 1) -> float:
    """Wall seconds since ``t0`` (a :func:`time.perf_counter` reading), rounded."""
    return round(time.perf_counter() - t0, digits)


def run_jobs(fn, jobs: list[dict], parallel: int, out: Path | None) -> None:
    """Each job in a fresh spawned process (no state carried between runs), ``parallel`` at a
    time; one JSON line per result on stdout, appended to ``out`` too."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(parallel, maxtasksperchild=1) as pool:
        for rec in pool.imap(fn, jobs):
            emit(rec, out)


# ---- results ----------------------------------------------------------------------------------
def emit(record: dict, out: Path | None = None) -> None:
    """Print ``record`` as one JSON line, and append it to ``out`` when given."""
    print(json.dumps(record), flush=True)
    if out:
        append_jsonl(out, [record])


def append_jsonl(path: Path, records) -> None:
    with open(path, "a") as f:
        f.writelines(json.dumps(r) + "\n" for r in records)


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of a file of JSON lines; other lines (a log printed among them) are passed over."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.lstrip().startswith("{")]


def grouped(path: Path, fields: tuple[str, ...]) -> dict[tuple, list[dict]]:
    """The JSON lines of ``path`` grouped by the values of ``fields``, in order of appearance."""
    groups: dict[tuple, list[dict]] = {}
    for r in read_jsonl(path):
        groups.setdefault(tuple(r[f] for f in fields), []).append(r)
    return groups


def mean_sd(values) -> str:
    """'mean ± sd' over runs (sd with n - 1), the value alone for one run, '' for none."""
    v = np.array(values, float)
    return "" if not len(v) else f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if len(v) > 1 else f"{v[0]:.3f}"


def markdown(rows) -> str:
    """Markdown tables from ``(columns, cells)`` pairs: a new header wherever the columns change."""
    out, last = [], None
    for cols, cells in rows:
        if cols != last:
            out += ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            last = cols
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)
