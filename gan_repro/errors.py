"""What can stop gan-repro, one class per kind of failure, and the one table of their exit codes.

Each error is one line, `<setting>: <message>`: the setting to change (or the file or folder at fault) and
what to do. The command line catches GanReproError once and exits with EXIT_CODES' code for its class; the
exit-code reference (docs/exit-codes.md) is rendered from the same table by exit_code_table().
"""

from __future__ import annotations


class GanReproError(Exception):
    """What stopped gan-repro, as one line: `<setting>: <message>` (just the message when no setting is to
    blame). Raise one of its subclasses, each with its own entry in EXIT_CODES."""

    def __init__(self, setting: str | None, message: str):
        super().__init__(f"{setting}: {message}" if setting else message)
        self.setting = setting
        self.message = message


class ConfigError(GanReproError):
    """A setting the run cannot use: a value out of range, a missing key, a bad override or plug-in."""


class RunFolderBusy(GanReproError):
    """Another gan-repro run holds the run folder's lock."""


class RunStateError(GanReproError):
    """A run folder's own record (state.json, config.yaml, its CSV or JSON files) is unreadable, or another
    gan-repro format wrote it (state.json's format_version): the run cannot be continued or read."""


class CheckpointRefused(GanReproError):
    """A checkpoint (a snapshot of G, or checkpoints/last.pt) that is torn, foreign, unsafe to load, or saved
    for other settings."""


class DatasetError(GanReproError):
    """The dataset cannot be used: its files are not under dataset.root, are damaged or unsafe to load, or
    could not be downloaded."""


class NonFiniteError(GanReproError):
    """A loss or gradient norm became NaN or inf (on_nonfinite=stop)."""

    def __init__(self, message: str):
        super().__init__(None, message)


class Interrupted(Exception):
    """A stop was requested (SIGINT or SIGTERM); the stage saved what it needs to resume. Not a failure: the
    same command resumes the run."""


EXIT_CODES: dict[type[BaseException], int] = {  # each error class -> the exit code `gan-repro` ends with
    ConfigError: 2,
    RunFolderBusy: 2,
    RunStateError: 2,
    CheckpointRefused: 2,
    DatasetError: 2,
    NonFiniteError: 3,
    OSError: 74,  # a file could not be written: a full disk, a read-only place (the state is saved)
    Interrupted: 75,  # stopped by SIGINT/SIGTERM, the state saved: rerun the same command to resume
}
OTHER_EXITS = {  # the codes no error class ends with
    0: "Done.",
    1: "Hydra's own errors; a sweep with unfinished jobs; gan-repro-check: a measured claim failed.",
}


def exit_code(error: BaseException) -> int | None:
    """The exit code of an error we expect (its class or the nearest parent in EXIT_CODES), else None."""
    return next((EXIT_CODES[kind] for kind in type(error).__mro__ if kind in EXIT_CODES), None)


def meaning(kind: type[BaseException]) -> str:
    """What an error class says happened: its docstring, on one line."""
    if kind is OSError:  # Python's own: its docstring is not about gan-repro
        return "A file could not be written (a full disk, a read-only place); the run's state is saved."
    return " ".join((kind.__doc__ or "").split())


def exit_code_table() -> str:
    """The exit codes as a Markdown table (docs/exit-codes.md): code, error class, what happened."""
    rows = [(code, "", text) for code, text in OTHER_EXITS.items()]
    rows += [(code, f"`{kind.__name__}`", meaning(kind)) for kind, code in EXIT_CODES.items()]
    lines = ["| Exit code | Error | What happened |", "|---|---|---|"]
    lines += [f"| {code} | {name} | {text} |" for code, name, text in sorted(rows, key=lambda row: row[0])]
    return "\n".join(lines) + "\n"
