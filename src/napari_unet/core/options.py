"""An option is a config field that says how users set it: its command-line flag and help, and
its widget control (label, range, place in the panels, whether it is remembered).

A field declared with :func:`option` is all it takes: the command line
(:mod:`napari_unet.flags`) and the widget (:mod:`napari_unet.widget.controls`) make their
flag and control from it, and build the config from what the user set. Fields without it are
engine settings that users do not set. Qt-free, argparse-free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any

TYPES = {"int": int, "float": float, "str": str, "bool": bool}
UNSET = type("Unset", (), {"__repr__": lambda self: "UNSET"})()  # ``switch`` and ``start`` not given


@dataclass(frozen=True)
class Option:
    """How users set one config field (see :func:`option`)."""

    help: str = ""
    flag: str | None = None
    metavar: str | None = None
    choices: tuple = ()
    switch: Any = UNSET
    parse: Callable[[str], dict] | None = None
    exclusive: str = ""
    label: str = ""
    tip: str = ""
    panel: str = ""
    advanced: bool = False
    range: tuple = ()
    step: float | None = None
    decimals: int | None = None
    suffix: str = ""
    special: str = ""
    start: Any = UNSET
    only: str = ""
    remember: bool = True


def option(default: Any = MISSING, *, default_factory: Any = MISSING, help: str = "", flag: str | None = None,
           metavar: str | None = None, choices: tuple = (), switch: Any = UNSET,
           parse: Callable[[str], dict] | None = None, exclusive: str = "", label: str = "", tip: str = "",
           panel: str = "", advanced: bool = False, range: tuple = (), step: float | None = None,
           decimals: int | None = None, suffix: str = "", special: str = "", start: Any = UNSET, only: str = "",
           remember: bool = True) -> Any:
    """A dataclass field that users set.

    Command line: ``help`` (``%(default)s`` shows the default), ``flag`` (default ``--field-name``;
    ``""``: none), ``metavar``, ``choices``; ``switch``: the flag takes no value and sets the field
    to this (a ``bool`` field's flag switches it from its default); ``parse``: the flag's text as a
    dict of config fields (one flag may set several); ``exclusive``: options of one group are
    given one at a time (the first one set wins; the widget sets the others to None).

    Widget: ``label`` (``""``: no control; a checkbox's text), ``tip`` (default: ``help``),
    ``panel`` (``"data"``, ``"training"`` or ``"prediction"``; the first panel that declares a
    name shows its control), ``advanced`` (in the panel's collapsed area), ``range``, ``step``,
    ``decimals`` (a float box; else an integer box), ``suffix``, ``special`` (the text shown at
    the lowest value, which means None for an optional field), ``start`` (the control's first
    value where it is not the config's default), ``only`` (enabled only in this mode) and
    ``remember`` (between sessions).
    """
    meta = Option(help, flag, metavar, tuple(choices), switch, parse, exclusive, label, tip, panel, advanced,
                  tuple(range), step, decimals, suffix, special, start, only, remember)
    return field(default=default, default_factory=default_factory, metadata={"option": meta})


def options(cls) -> list[tuple[Field, Option]]:
    """The fields of the dataclass ``cls`` that users set, with their options, in field order."""
    return [(f, f.metadata["option"]) for f in fields(cls) if "option" in f.metadata]


def value_type(f: Field) -> type:
    """The type of a field's value (``int | None`` -> ``int``)."""
    name = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "str")
    return TYPES.get(name.split("|")[0].strip(), str)


def optional(f: Field) -> bool:
    return "None" in (f.type if isinstance(f.type, str) else str(f.type))


def default_of(f: Field) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def flag_of(f: Field, opt: Option) -> str:
    """The command-line flag of an option (empty: none)."""
    return ("--" + f.name.replace("_", "-")) if opt.flag is None else opt.flag


def help_of(f: Field, opt: Option, default: Any = UNSET) -> str:
    """The option's help, ``%(default)s`` written out (the field's default unless given)."""
    value = default_of(f) if default is UNSET else default
    return opt.help.replace("%(default)s", f"{value:g}" if isinstance(value, float) else str(value))


def switch_of(f: Field, opt: Option) -> Any:
    """The value a flag without argument sets (UNSET: the flag takes a value)."""
    if opt.switch is not UNSET:
        return opt.switch
    return (not default_of(f)) if value_type(f) is bool else UNSET


def one_of_each_group(cls, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with one option per ``exclusive`` group of ``cls`` set: the first one set
    wins and the others become None (none set: the config's defaults)."""
    values, winner = dict(values), {}
    for f, opt in options(cls):
        if opt.exclusive and values.get(f.name) is not None:
            winner.setdefault(opt.exclusive, f.name)
    for f, opt in options(cls):
        if opt.exclusive in winner and winner[opt.exclusive] != f.name:
            values[f.name] = None
    return values
