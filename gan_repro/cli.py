"""The console entry points, one thin layer: parse, call the library, map errors to one line and an exit code.

    gan-repro          main        (Hydra app: pipeline.run in its own folder; -m sweeps)
    gan-repro-plot     plot_main   (redraw a run from its CSVs, or aggregate many runs)
    gan-repro-check    check_main  (the paper's claims on a finished run or sweep; exit 1 if one fails)
    gan-repro-prepare  prepare_main (decode a file dataset, or cut the photos, once)
    gan-repro-bench    bench_main  (our training stage against the PyTorch DCGAN example loop)

Exit codes: errors.EXIT_CODES, one per error class (docs/exit-codes.md): 0 done, 1 Hydra's own errors or a
sweep with unfinished jobs, 2 bad input, 3 a non-finite value, 74 a file that could not be written (disk full,
read-only), 75 interrupted by SIGINT/SIGTERM with the state saved (rerun the same command, or the one a
stopped sweep prints, to resume).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import hydra
from hydra._internal.utils import get_args_parser  # the parser hydra.main reads sys.argv with
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from gan_repro.config import check_added_keys, check_dataset, composed, config_dir, writable_folder_problem
from gan_repro.errors import EXIT_CODES, ConfigError, GanReproError, Interrupted, NonFiniteError, exit_code
from gan_repro.launch import job_stop_flag, share_machine
from gan_repro.pipeline import check_run_config, run
from gan_repro.runstate import (
    RUNS_FOLDER,
    STOP_FILE,
    SWEEPS_FOLDER,
    StopFlag,
    dated_folder,
    remove_debris,
)
from gan_repro.schema import check_override_types

log = logging.getLogger(__name__)

EXIT_BAD_INPUT = EXIT_CODES[ConfigError]  # also a console command's own bad argument
EXIT_INTERRUPTED = EXIT_CODES[Interrupted]


# ----------------------------------------------------------------------------- errors
def report_error(message: str, run_dir: Path | None = None) -> None:
    """One line on stderr, and the same line in the run's log.txt."""
    print(f"error: {message}", file=sys.stderr)
    if run_dir is not None and run_dir.is_dir():
        try:
            with open(run_dir / "log.txt", "a") as handle:
                handle.write(f"error: {message}\n")
        except OSError:  # a full disk or a read-only folder: stderr has it
            pass


def refusal_code(error: GanReproError) -> int:
    """Report an error of ours in its one line; its exit code."""
    report_error(str(error))
    return exit_code(error) or EXIT_BAD_INPUT  # every class has its code (tests/test_errors.py)


def error_line(error: BaseException) -> str:
    """The line a run prints for an error with an exit code (errors.EXIT_CODES)."""
    if isinstance(error, OSError):  # a full disk, a read-only place (and their subclasses)
        return storage_line(error)
    if isinstance(error, NonFiniteError):
        return f"on_nonfinite: {error}"
    return f"{error} (debug=true shows the traceback)"


def storage_line(error: OSError) -> str:
    """A file-system failure as one line: the path, the cause, and that the run can be resumed."""
    where = error.filename or "a file"
    return (
        f"{where}: {error.strerror or error}; the run's state is saved: free some space or fix the place, "
        "then rerun the same command to resume"
    )


def config_source(flags: argparse.Namespace | None) -> dict[str, Any]:
    """compose()'s name, folder and extra folder for Hydra's --config-name, --config-path and --config-dir
    (Hydra reads --config-path relative to the file that calls hydra.main: this one)."""
    if flags is None:
        return {}
    return {
        "name": flags.config_name or "config",
        "folder": Path(__file__).parent / flags.config_path if flags.config_path else None,
        "extra": Path(flags.config_dir).absolute() if flags.config_dir else None,
    }


def wants_traceback(cfg: DictConfig) -> bool:
    """debug=true (or Hydra's HYDRA_FULL_ERROR=1): show the traceback instead of one line."""
    return cfg.get("debug") is True or os.environ.get("HYDRA_FULL_ERROR") == "1"


# ----------------------------------------------------------------------------- gan-repro
def hydra_flags() -> dict[str, argparse.Action]:
    """Hydra's command-line flags (--cfg, -c, --multirun, ...) by name, as the parser hydra.main reads
    sys.argv with declares them (argparse lists its actions only in _actions; Hydra's --help reads it too)."""
    return {name: action for action in get_args_parser()._actions for name in action.option_strings}


def flag_action(argument: str, flags: dict[str, argparse.Action]) -> argparse.Action | None:
    """The flag an argument names: exactly, or as argparse's unique abbreviation of a long flag (--cf)."""
    if argument in flags:
        return flags[argument]
    matches = [
        action for name, action in flags.items() if argument.startswith("--") and name.startswith(argument)
    ]
    return matches[0] if len(matches) == 1 else None


def takes_value(action: argparse.Action, following: str) -> bool:
    """Whether a flag takes the next argument as its value: a flag that needs one (-p train) does; --info
    only one of its choices (`-i seed=1` shows all of Hydra's information for that override)."""
    if following.startswith("-"):
        return False
    return action.nargs is None or (action.nargs == "?" and following in (action.choices or ()))


def split_arguments(arguments: Sequence[str]) -> tuple[list[str], list[str]]:
    """The command line as (overrides, Hydra's flags each with its value), wherever each flag stands. Hydra's
    parser reads the overrides as one run of positionals (nargs='*'), so an override after a flag
    (`experiment=noise --cfg job seed=1`, or the run folder main() adds) is refused there."""
    flags = hydra_flags()
    overrides: list[str] = []
    given: list[str] = []
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        position += 1
        if not argument.startswith("-"):
            overrides.append(argument)
            continue
        given.append(argument)
        action = flag_action(argument, flags)
        if action is not None and position < len(arguments) and takes_value(action, arguments[position]):
            given.append(arguments[position])
            position += 1
    return overrides, given


def unique_folder_override(arguments: list[str]) -> list[str]:
    """A run (or sweep) folder named by date, time and a random suffix, unless the command names one: two
    runs started in the same second never share a folder, and every job of a sweep, in whatever process a
    launcher starts it, gets the same sweep folder (Hydra's ${now:} is evaluated again in each process)."""
    multirun = any(argument in ("-m", "--multirun") for argument in arguments)
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    if any(argument.lstrip("+").startswith(f"{key}=") for argument in arguments):
        return []
    return [f"{key}={dated_folder(SWEEPS_FOLDER if multirun else RUNS_FOLDER)}"]


def sweep_folder(arguments: list[str]) -> Path | None:
    """The hydra.sweep.dir a multirun command writes to (None for a single run)."""
    if not any(argument in ("-m", "--multirun") for argument in arguments):
        return None
    values = [
        argument.split("=", 1)[1]
        for argument in arguments
        if argument.lstrip("+").startswith("hydra.sweep.dir=")
    ]
    return Path(values[-1]) if values else None


def resume_command(run_dir: Path, overrides: Sequence[str]) -> str:
    """The command that continues this run: the same overrides, pointed at the same folder, each quoted for
    the shell where it needs it ('train.snapshot_epochs=[1,5]': zsh reads [..] as a glob)."""
    kept = [override for override in overrides if not override.lstrip("+").startswith("hydra.run.dir=")]
    return shlex.join(["gan-repro", *kept, f"hydra.run.dir={run_dir}"])


def run_folder(arguments: list[str]) -> Path | None:
    """The hydra.run.dir a single-run command writes to (the last one given)."""
    values = [a.split("=", 1)[1] for a in arguments if a.lstrip("+").startswith("hydra.run.dir=")]
    return Path(values[-1]) if values else None


class HELP_FORMAT(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help shows each option's default (where it has one) and keeps the description's line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        """The help with '(default: X)' only when X is a real default (not None, not already said)."""
        if action.default is None or "default" in (action.help or ""):
            return action.help or ""
        return super()._get_help_string(action)


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="config")
def hydra_main(cfg: DictConfig) -> None:
    """The Hydra app: one run in its own folder, with one-line errors and exit codes.

    In a sweep (-m), a job that fails is reported and marked, and the sweep goes on with the next job; a
    stopped job saves its state and returns (in a joblib or submitit worker an exit would look like a crash):
    the sweep's process says how to resume the whole sweep."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    show_traceback = wants_traceback(cfg)
    logging.raiseExceptions = show_traceback  # a log.txt on a full disk: no "--- Logging error ---" pages
    share_machine(cfg)
    try:
        with job_stop_flag(multirun) as stop:
            if multirun and stop.look():  # a new job keeps no state.json: it counts as never started
                log.warning("the sweep was asked to stop: this job does not start; the resume runs it")
                return
            if cfg.get("dry_run"):  # main() plans a single run before Hydra starts; a sweep's jobs it cannot
                raise ConfigError(
                    "dry_run", "plans one run, not a sweep's jobs; drop -m and give one value each"
                )
            run(cfg, run_dir, stop=stop)
    except Interrupted as error:  # a stop request ends a sweep too
        end_interrupted(error, run_dir, multirun)
    except Exception as error:
        if show_traceback or (exit_code(error) is None and not multirun):
            raise
        end_failed(error, run_dir, multirun)


def end_interrupted(error: Interrupted, run_dir: Path, multirun: bool) -> None:
    """A stopped job: in a sweep a log line (the sweep's process prints how to resume it all); a single run
    prints the command that resumes it and exits 75."""
    if multirun:
        log.warning("interrupted at %s; state saved; the sweep's resume command continues it", error)
        return
    command = resume_command(run_dir, HydraConfig.get().overrides.task)
    report_error(f"interrupted at {error}; state saved. To resume: {command}", run_dir)
    sys.exit(EXIT_INTERRUPTED)


def end_failed(error: Exception, run_dir: Path, multirun: bool) -> None:
    """A failed job's one line (an unexpected error's traceback goes to log.txt); a single run exits with
    the error's code, a sweep goes on with its next job."""
    code = exit_code(error)
    if code is None:
        log.exception("job failed")  # the traceback goes to this job's log.txt; the sweep goes on
        report_error(f"{error.__class__.__name__}: {error} (traceback in {run_dir / 'log.txt'})", run_dir)
        return
    report_error(error_line(error), run_dir)  # main() removes a new folder that holds nothing else
    if multirun:  # the job's folder keeps its log: the sweep's summary names the failed job
        return
    sys.exit(code)


def check_output_folder(arguments: list[str]) -> None:
    """hydra.run.dir (or hydra.sweep.dir) must be a folder we can write, or one we can create: else one line
    and exit 2, before Hydra tries to make it (and prints a traceback)."""
    if any(argument in ("--cfg", "-c", "--help", "-h", "--info", "--hydra-help") for argument in arguments):
        return
    multirun = any(argument in ("-m", "--multirun") for argument in arguments)
    key = "hydra.sweep.dir" if multirun else "hydra.run.dir"
    values = [a.split("=", 1)[1] for a in arguments if a.lstrip("+").startswith(f"{key}=")]
    if not values:
        return
    problem = writable_folder_problem(Path(values[-1]).expanduser().absolute())
    if problem is not None:
        report_error(f"{key}: {problem}; choose another {key}")
        sys.exit(EXIT_BAD_INPUT)


SHOWN_CONFIGS = ("job", "all")  # --cfg values that print the job's settings: checked as a run checks them


def runs_one_job(flags: argparse.Namespace) -> bool:
    """Whether the command runs one job (no sweep, and no flag that prints something and exits)."""
    shows = (flags.help, flags.hydra_help, flags.cfg, flags.info, flags.shell_completion)
    return not (flags.multirun or flags.experimental_rerun or any(shows))


def check_before_work(flags: argparse.Namespace, run_dir: Path | None) -> None:
    """Before Hydra starts, for a single run or --cfg job|all: the overrides must compose (else Hydra's
    complaint as one line, exit 2). For --cfg job|all and dry_run=true, every setting is checked as the run
    checks it (pipeline.check_run_config: the run's line and exit 2); a dry run then prints what the run
    would do and exits 0, with no run folder."""
    shows = flags.cfg in SHOWN_CONFIGS
    if not (shows or runs_one_job(flags)):
        return
    try:
        cfg = composed(flags.overrides, **config_source(flags))
    except GanReproError as error:
        sys.exit(refusal_code(error))
    if not (shows or cfg.get("dry_run")):
        return
    from gan_repro.plan import plan_lines

    try:
        device = check_run_config(cfg)
        lines = [] if shows else plan_lines(cfg, device, run_dir)
    except GanReproError as error:
        if wants_traceback(cfg):
            raise
        report_error(error_line(error))
        sys.exit(exit_code(error))
    if not shows:
        print("\n".join(lines))
        sys.exit(0)


def main() -> None:
    """gan-repro [KEY=VALUE ...]: Figures 1-3 of Arjovsky & Bottou (2017). See conf/config.yaml."""
    overrides, flags = split_arguments(sys.argv[1:])
    arguments = [*overrides, *flags]
    try:
        check_added_keys(overrides)
        check_override_types(overrides)  # a sweep's values too, before any job
    except GanReproError as error:
        sys.exit(refusal_code(error))
    # The overrides together, then the flags: the one order Hydra's parser accepts for any of them.
    sys.argv[1:] = [*overrides, *unique_folder_override(arguments), *flags]
    check_output_folder(sys.argv[1:])
    check_before_work(get_args_parser().parse_args(sys.argv[1:]), run_folder(sys.argv[1:]))
    sweep, single = sweep_folder(sys.argv[1:]), run_folder(sys.argv[1:])
    if sweep is not None:
        run_sweep(sweep)
        return
    new_folder = single is not None and not single.exists()  # made by this command
    try:
        hydra_main()
    except SystemExit as stopped:
        if new_folder and stopped.code == EXIT_BAD_INPUT:
            remove_debris(single)  # refused before any work: no folder with only .hydra/ and a log
        raise


def run_sweep(sweep: Path) -> None:
    """A multirun (-m). SIGINT/SIGTERM stops every job, in whatever process its launcher runs it: this
    process writes the sweep's stop file, each job saves its state at its next step, jobs not yet begun do
    not begin. Then: which jobs finished and which did not, and the one command that resumes the whole
    sweep (exit 75 after a stop, 1 when some job failed, 0 when all are done)."""
    stop = StopFlag(sweep.absolute() / STOP_FILE, announce=True)  # absolute: jobs may run in other folders
    stop.clear()  # an earlier stop's request: this command is its resume
    with stop.installed():
        try:
            hydra_main()
        except SystemExit:  # Hydra's own error, e.g. a launcher whose workers a process-group signal ended
            if not stop.look():
                raise
    report_sweep(sweep, stopped=stop.look())


def report_sweep(sweep: Path, *, stopped: bool = False) -> None:
    """One line for the sweep, one per unfinished job, and the command that resumes it: exit 75 after a
    stop (jobs that never began have no folder to count), exit 1 if a job did not finish."""
    from gan_repro.aggregate import job_statuses

    jobs = job_statuses(sweep) if sweep.is_dir() else {}
    unfinished = {folder: status for folder, status in jobs.items() if status != "done"}
    print(
        f"sweep: {len(jobs) - len(unfinished)} of {len(jobs)} jobs done in {sweep}; "
        f"aggregate with: gan-repro-plot {sweep}",
        file=sys.stderr,
    )
    for folder, status in unfinished.items():
        print(f"error: job {folder}: {status}", file=sys.stderr)
    if stopped:
        print(f"sweep: stopped; resume it all: {sweep_resume_command(sweep)}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    if unfinished:
        print(f"sweep: to resume the whole sweep: {sweep_resume_command(sweep)}", file=sys.stderr)
        sys.exit(1)


def sweep_resume_command(sweep: Path) -> str:
    """The command that resumes every job of a sweep: the same arguments with the same hydra.sweep.dir
    (finished jobs only redraw, interrupted ones continue, unstarted ones start)."""
    kept = [a for a in sys.argv[1:] if not a.lstrip("+").startswith("hydra.sweep.dir=")]
    return shlex.join(["gan-repro", *kept, f"hydra.sweep.dir={sweep.absolute()}"])


# ----------------------------------------------------------------------------- gan-repro-plot
def plot_parser() -> argparse.ArgumentParser:
    """gan-repro-plot's arguments."""
    from gan_repro.aggregate import BANDS
    from gan_repro.report import FIGURES, FORMATS

    parser = argparse.ArgumentParser(
        prog="gan-repro-plot", formatter_class=HELP_FORMAT, description=plot_main.__doc__
    )
    parser.add_argument(
        "paths",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="a run folder, a theory-lab run folder, or sweep folders to aggregate",
    )
    parser.add_argument("--figures", nargs="+", choices=FIGURES, help="default: the run's plot.figures")
    parser.add_argument(
        "--window",
        type=int,
        help="running-average window in logged points (default: the run's; 10 when aggregating)",
    )
    parser.add_argument("--formats", nargs="+", choices=FORMATS, help="default: the run's plot.formats")
    parser.add_argument(
        "--output",
        type=Path,
        help="aggregate: where results.csv and figures/ go (default: the one folder given)",
    )
    parser.add_argument(
        "--band",
        choices=tuple(BANDS),
        default="minmax",
        help="aggregate: the band around the mean over seeds (default: min to max)",
    )
    return parser


def plot_main(argv: Sequence[str] | None = None) -> int:
    """gan-repro-plot RUN_DIR: redraw a finished run's figures, summary.json and report.md from its CSVs.
    gan-repro-plot SWEEP_DIR [MORE ...]: aggregate many runs (mean over seeds with a band, results.csv)."""
    from gan_repro.redraw import plot_folders

    args = plot_parser().parse_args(argv)
    if args.window is not None and args.window < 1:
        report_error(f"--window: must be at least 1, got {args.window}")
        return EXIT_BAD_INPUT
    missing = [path for path in args.paths if not path.is_dir()]
    if missing:
        report_error(f"DIR: {missing[0]} is not a folder; give a run or sweep folder")
        return EXIT_BAD_INPUT
    try:
        paths = plot_folders(
            args.paths,
            figures=args.figures,
            window=args.window,
            formats=args.formats,
            output=args.output,
            band=args.band,
        )
    except GanReproError as error:  # e.g. a run folder of another gan-repro format
        return refusal_code(error)
    for path in paths:
        print(path)
    return 0


# ----------------------------------------------------------------------------- gan-repro-check
def check_main(argv: Sequence[str] | None = None) -> int:
    """gan-repro-check RUN_DIR|SWEEP_DIR [--markdown]: the paper's claims on a finished run (a line each), or
    on a sweep over seeds; exit 0 when every measured claim holds, 1 when one fails, 2 for an unfinished run
    or one where nothing could be measured."""
    from gan_repro.verdicts import check_folder

    parser = argparse.ArgumentParser(
        prog="gan-repro-check", formatter_class=HELP_FORMAT, description=check_main.__doc__
    )
    parser.add_argument(
        "run_dir", type=Path, metavar="RUN_DIR|SWEEP_DIR", help="a finished run, or a sweep of runs"
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (as in the README)")
    args = parser.parse_args(argv)
    try:
        return check_folder(args.run_dir, markdown=args.markdown)
    except GanReproError as error:
        return refusal_code(error)


# ----------------------------------------------------------------------------- gan-repro-prepare
def prepare_main(argv: Sequence[str] | None = None) -> int:
    """gan-repro-prepare [KEY=VALUE ...]: decode a file dataset once (e.g. dataset=lsun dataset.root=...), or
    cut the photos' crops once (dataset=photos)."""
    from gan_repro.prepare import prepare

    parser = argparse.ArgumentParser(
        prog="gan-repro-prepare", formatter_class=HELP_FORMAT, description=prepare_main.__doc__
    )
    parser.add_argument(
        "overrides", nargs="*", help="gan-repro overrides naming the dataset, its root and scale"
    )
    parser.add_argument("--num-workers", type=int, default=2, help="decoding processes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        cfg = composed(args.overrides)
        check_dataset(cfg.dataset)
        folder = prepare(cfg.dataset, num_workers=args.num_workers)
    except GanReproError as error:
        return refusal_code(error)
    print(json.dumps(json.loads((folder / "manifest.json").read_text()), indent=2))
    print(folder)
    return 0


# ----------------------------------------------------------------------------- gan-repro-bench
def bench_parser() -> argparse.ArgumentParser:
    """gan-repro-bench's arguments."""
    parser = argparse.ArgumentParser(
        prog="gan-repro-bench", formatter_class=HELP_FORMAT, description=bench_main.__doc__
    )
    parser.add_argument(
        "overrides", nargs="*", help="gan-repro config overrides, e.g. scale=paper device=cuda"
    )
    parser.add_argument("--iterations", type=int, default=100, help="training iterations per timed run")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs of each loop (the median is reported)"
    )
    parser.add_argument("--warmup", type=int, default=10, help="untimed iterations of each loop first")
    parser.add_argument("--num-workers", type=int, default=2, help="the reference DataLoader's workers")
    parser.add_argument(
        "--probe-iterations", type=int, default=20, help="iterations per timed probe measurement"
    )
    parser.add_argument("--json", type=Path, help="also write the result to this JSON file")
    return parser


def bench_main(argv: Sequence[str] | None = None) -> int:
    """gan-repro-bench [KEY=VALUE ...]: images/s of our training stage against the DCGAN example loop."""
    from gan_repro.bench import format_table, run_benchmark

    args = bench_parser().parse_args(argv)
    for name in ("iterations", "repeats", "warmup", "probe_iterations"):
        if getattr(args, name) < 1:
            report_error(f"--{name.replace('_', '-')}: must be at least 1")
            return EXIT_BAD_INPUT
    try:
        result = run_benchmark(
            composed(args.overrides),
            overrides=args.overrides,
            iterations=args.iterations,
            repeats=args.repeats,
            warmup=args.warmup,
            num_workers=args.num_workers,
            probe_iterations=args.probe_iterations,
        )
    except GanReproError as error:
        return refusal_code(error)
    print(format_table(result))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    main()
