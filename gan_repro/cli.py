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
import secrets
import shlex
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra._internal.utils import get_args_parser  # the parser hydra.main reads sys.argv with
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, open_dict

from gan_repro.config import (
    check_added_keys,
    check_dataset,
    compose,
    config_dir,
    writable_folder_problem,
)
from gan_repro.errors import EXIT_CODES, ConfigError, GanReproError, Interrupted, NonFiniteError, exit_code
from gan_repro.pipeline import check_run_config, run
from gan_repro.report import saved_config, saved_plot_settings
from gan_repro.runstate import (
    HOLDER_NAME,
    LOCK_NAME,
    STOP_FILE,
    StopFlag,
    installed_flag,
    lock_is_free,
)
from gan_repro.schema import check_override_types

log = logging.getLogger(__name__)

EXIT_BAD_INPUT = EXIT_CODES[ConfigError]  # also a console command's own bad argument
EXIT_INTERRUPTED = EXIT_CODES[Interrupted]


# ----------------------------------------------------------------------------- errors
def one_line(error: BaseException) -> str:
    """An error as one line: `setting: message` for ours; Hydra's without the search path."""
    if isinstance(error, GanReproError):
        return str(error)
    message = " ".join(str(error).split()).split(" Config search path:")[0]
    return f"overrides: {message or error.__class__.__name__}"


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


def composed(overrides: Sequence[str], flags: argparse.Namespace | None = None) -> DictConfig:
    """The config for these overrides (and Hydra's --config-name, --config-path and --config-dir flags, when
    given); Hydra's complaints as a ConfigError."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        return compose(overrides, **config_source(flags))
    except (HydraException, OmegaConfBaseException, ValueError) as error:
        raise ConfigError("overrides", one_line(error).removeprefix("overrides: ")) from None


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


RUNS_FOLDER, SWEEPS_FOLDER = "outputs/runs", "outputs/multirun"  # where new runs and sweeps go (dated_folder)


def dated_folder(root: str) -> str:
    """root/<date>/<time>-<6 hex digits>: a new folder that no run started in the same second shares."""
    return f"{root}/{time.strftime('%Y-%m-%d/%H-%M-%S')}-{secrets.token_hex(3)}"


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


def share_machine(cfg: DictConfig) -> None:
    """In a sweep, give this job its share of the CPU threads (joblib's n_jobs, or the launcher's
    cpus_per_task) and, on a machine with several GPUs, a GPU of its own (job number modulo GPU count)."""
    hydra_cfg = HydraConfig.get()
    if hydra_cfg.mode != RunMode.MULTIRUN:
        return
    launcher, cpus = hydra_cfg.launcher, os.cpu_count() or 1
    threads = None
    if launcher.get("cpus_per_task"):
        threads = int(launcher.cpus_per_task)
    elif "joblib" in str(launcher.get("_target_", "")) and isinstance(launcher.get("n_jobs"), int):
        parallel = (
            launcher.n_jobs if launcher.n_jobs > 0 else max(1, cpus + 1 + launcher.n_jobs)
        )  # joblib: -1 = all
        threads = max(1, cpus // parallel)
    if threads is not None:
        torch.set_num_threads(threads)
    if cfg.device == "auto" and torch.cuda.is_available() and torch.cuda.device_count() > 1:
        with open_dict(cfg):
            cfg.device = f"cuda:{hydra_cfg.job.num % torch.cuda.device_count()}"


def remove_debris(run_dir: Path) -> bool:
    """A run refused before any work, in a folder this command created, leaves nothing behind: Hydra's
    .hydra/, log.txt and the lock file go, then the folder and an emptied date folder of outputs/runs/.
    Returns whether it did (never for a folder with a state.json, or one whose lock is held)."""
    if not run_dir.is_dir() or (run_dir / "state.json").exists() or not lock_is_free(run_dir):
        return False
    shutil.rmtree(run_dir / ".hydra", ignore_errors=True)
    for name in ("log.txt", LOCK_NAME, HOLDER_NAME):
        (run_dir / name).unlink(missing_ok=True)
    for folder in (run_dir, run_dir.parent):  # rmdir only removes an empty folder
        if folder is run_dir.parent and folder.parent.name != "runs":
            break
        try:
            folder.rmdir()
        except OSError:
            break
    return True


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


@contextmanager
def job_stop_flag(multirun: bool) -> Iterator[StopFlag]:
    """The stop flag a run checks between steps. A single run: its own, set by SIGINT/SIGTERM. A sweep job in
    the sweep's own process (the basic launcher): the sweep's flag, already listening. A sweep job in another
    process (joblib, submitit): a flag that also watches the sweep's stop file, which the sweep writes on
    SIGINT/SIGTERM. Under submitit, SIGTERM stays submitit's: it bypasses it, because on SLURM a preemption
    sends SIGTERM along with the signal on which submitit requeues the job."""
    if not multirun:
        with StopFlag().installed() as stop:
            yield stop
        return
    shared = installed_flag()
    if shared is not None:
        yield shared
        return
    hydra_cfg = HydraConfig.get()
    sweep_dir = Path(hydra_cfg.runtime.cwd) / str(hydra_cfg.sweep.dir)  # Hydra's cwd: the sweep's own
    submitit = "submitit" in str(hydra_cfg.launcher.get("_target_", ""))
    signals = (signal.SIGINT,) if submitit else (signal.SIGINT, signal.SIGTERM)
    try:
        with StopFlag(sweep_dir / STOP_FILE).installed(signals) as stop:
            yield stop
    finally:  # between jobs a worker ignores Ctrl-C: a KeyboardInterrupt in an idle loky worker breaks the
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # pool, and loky then kills the busy ones mid-step


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
        if multirun:
            log.warning("interrupted at %s; state saved; the sweep's resume command continues it", error)
            return
        command = resume_command(run_dir, HydraConfig.get().overrides.task)
        report_error(f"interrupted at {error}; state saved. To resume: {command}", run_dir)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as error:
        code = exit_code(error)
        if show_traceback or (code is None and not multirun):
            raise
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
        cfg = composed(flags.overrides, flags)
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
def saved_lab_name(run_dir: Path) -> str | None:
    """lab.name from a run's config.yaml when the run is a theory-lab experiment, else None."""
    lab = saved_config(run_dir).get("lab")
    return lab.get("name") if isinstance(lab, dict) else None


def redraw_run(run_dir: Path, args: argparse.Namespace) -> int:
    """One run folder: its figures, sample sheet, summary.json and report.md again, from its CSVs.

    --window changes only the figures' smoothing: the claims in summary.json keep the run's own window."""
    from gan_repro.plot import draw_figures, draw_samples_figure
    from gan_repro.report import FIGURES, refresh_summary
    from gan_repro.writeup import write_report

    saved = saved_plot_settings(run_dir)
    formats = args.formats or saved.get("formats", ("png", "pdf"))
    lab = saved_lab_name(run_dir)
    if lab is not None:  # a theory-lab run: its one figure, from its own CSVs
        from gan_repro.lab.figures import draw_lab_figure

        for path in [*draw_lab_figure(lab, run_dir, formats=formats), write_report(run_dir)]:
            print(path)
        return 0
    _, changed = refresh_summary(run_dir)
    for line in changed:
        print(f"summary.json: {line}", file=sys.stderr)
    window = args.window or saved.get("window", 10)
    paths = draw_figures(
        run_dir, figures=args.figures or saved.get("figures", FIGURES[:3]), window=window, formats=formats
    )
    for path in [*paths, *draw_samples_figure(run_dir, formats=formats), write_report(run_dir)]:
        print(path)
    return 0


def aggregate_runs(args: argparse.Namespace) -> int:
    """Several runs (a sweep, or several folders): results.csv and the aggregate figures."""
    from gan_repro.aggregate import FIGURE_MEASURES, PAPER_FIGURES, aggregate, find_run_folders

    if not find_run_folders(args.paths):
        report_error(
            f"DIR: no gan-repro runs (probe.csv, or run folders with config.yaml) under "
            f"{', '.join(map(str, args.paths))}"
        )
        return EXIT_BAD_INPUT
    if args.output is None and len(args.paths) > 1:
        report_error("--output: several folders given; say where the aggregate goes with --output DIR")
        return EXIT_BAD_INPUT
    figures = [name for name in (args.figures or PAPER_FIGURES) if name in FIGURE_MEASURES]
    for path in aggregate(
        args.paths,
        output=args.output or args.paths[0],
        window=args.window or 10,
        band=args.band,
        formats=args.formats or ("png",),
        figures=figures,
    ):
        print(path)
    return 0


def plot_main(argv: Sequence[str] | None = None) -> int:
    """gan-repro-plot RUN_DIR: redraw a finished run's figures, summary.json and report.md from its CSVs.
    gan-repro-plot SWEEP_DIR [MORE ...]: aggregate many runs (mean over seeds with a band, results.csv)."""
    from gan_repro.aggregate import BANDS, is_run_folder
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
    args = parser.parse_args(argv)
    if args.window is not None and args.window < 1:
        report_error(f"--window: must be at least 1, got {args.window}")
        return EXIT_BAD_INPUT
    missing = [path for path in args.paths if not path.is_dir()]
    if missing:
        report_error(f"DIR: {missing[0]} is not a folder; give a run or sweep folder")
        return EXIT_BAD_INPUT
    try:
        if len(args.paths) == 1:
            single = args.paths[0]
            if (single / "probe.csv").is_file() or saved_lab_name(single):
                return redraw_run(single, args)
            if is_run_folder(single) or not any(single.iterdir()):
                report_error(f"DIR: no probe.csv in {single}; give a finished gan-repro run folder")
                return EXIT_BAD_INPUT
        return aggregate_runs(args)
    except GanReproError as error:  # e.g. a run folder written by an older gan-repro
        return refusal_code(error)


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
    from gan_repro.prepare import PREPARED_DATASETS, prepare

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
        if cfg.dataset.name not in PREPARED_DATASETS:
            raise ConfigError(
                "dataset",
                f"{cfg.dataset.name} is already held in memory as uint8; prepare is for "
                f"{', '.join(PREPARED_DATASETS)}",
            )
        folder = prepare(cfg.dataset, num_workers=args.num_workers)
    except GanReproError as error:
        return refusal_code(error)
    print(json.dumps(json.loads((folder / "manifest.json").read_text()), indent=2))
    print(folder)
    return 0


# ----------------------------------------------------------------------------- gan-repro-bench
def bench_main(argv: Sequence[str] | None = None) -> int:
    """gan-repro-bench [KEY=VALUE ...]: images/s of our training stage against the DCGAN example loop."""
    from gan_repro.bench import format_table, run_benchmark

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
    args = parser.parse_args(argv)
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
