"""Faults and bad input without tracebacks: a full disk, read-only places, a file where a folder belongs,
values out of range, unknown keys, a garbled config.yaml on resume, a malicious checkpoint. Each is one line
naming the setting or the path; a property-based test generates many of them."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

import gan_repro
from gan_repro import api
from gan_repro.checkpoints import REFUSED, load_checkpoint
from gan_repro.cli import check_main, plot_main
from gan_repro.config import IMAGE_SIZE_MAX, RULES, SEED_MAX, check_config, unknown_added_key
from gan_repro.errors import EXIT_CODES, CheckpointRefused, GanReproError, RunFolderBusy, RunStateError
from gan_repro.runstate import FORMAT_VERSION, HOLDER_NAME, STATE_NAME, lock_is_free, run_folder_lock
from tests.helpers import TINY, compose_config, run_cli, write_images
from tests.test_untrusted import QUICK, call_main

pytestmark = pytest.mark.integration


def one_error_line(code: int, output: str, setting: str) -> None:
    assert code != 0 and "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {setting}"), output


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        (["dataset.image_size=4096"], "dataset.image_size"),
        (["seed=99999999999999999999"], "seed"),
        (["seed=-1"], "seed"),
        (["+foo=1"], "foo"),
        (["++train.nothing=2"], "train.nothing"),
    ],
)
def test_bad_values_are_one_line(tmp_path: Path, overrides: list[str], setting: str) -> None:
    code, output = call_main([*TINY, *overrides, f"hydra.run.dir={tmp_path / 'run'}"])
    one_error_line(code, output, setting)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", ["abc", "-1", "0", "1.5"])
def test_max_images_must_be_a_count(tmp_path: Path, value: str) -> None:
    root = tmp_path / "faces"
    write_images(root, [(20, 20)] * 3)
    code, output = call_main(
        [
            *TINY,
            "dataset=image_folder",
            f"dataset.root={root}",
            f"dataset.max_images={value}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ]
    )
    one_error_line(code, output, "dataset.max_images")


def test_places_that_are_files_are_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    code, output = call_main([*TINY, "cache=true", f"cache_dir={a_file}", f"hydra.run.dir={tmp_path / 'r'}"])
    one_error_line(code, output, "cache_dir")
    code, output = call_main([*TINY, f"hydra.run.dir={a_file / 'run'}"])
    one_error_line(code, output, "hydra.run.dir")


def mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, check=False
    )
    return result.returncode == 0


@pytest.fixture
def mounts(tmp_path: Path):
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        path = tmp_path / name
        if not mount_tmpfs(path, options):
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_read_only_places_are_one_line(tmp_path: Path, mounts) -> None:
    read_only = mounts("ro", "ro,size=64k")
    for overrides, setting in (
        ([f"hydra.run.dir={read_only / 'run'}"], "hydra.run.dir"),
        (["cache=true", f"cache_dir={read_only / 'cache'}", f"hydra.run.dir={tmp_path / 'r'}"], "cache_dir"),
    ):
        code, output = call_main([*TINY, *overrides])
        one_error_line(code, output, setting)


def test_full_disk_is_one_line_and_resumable(tmp_path: Path, mounts) -> None:
    disk = mounts("full", "size=96k")
    run_dir = disk / "run"
    result = run_cli(*TINY, "plot.formats=[png]", f"hydra.run.dir={run_dir}", cwd=tmp_path, timeout=600)
    assert result.returncode == 74, result.stderr
    assert "Traceback" not in result.stderr and "Logging error" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0] and str(run_dir) in errors[0]
    assert not list(run_dir.rglob("*.tmp"))
    assert json.loads((run_dir / "state.json").read_text())["status"] in ("failed", "running")


def test_missing_or_garbled_config_on_resume_is_one_line(tmp_path: Path) -> None:
    from gan_repro.pipeline import open_run
    from gan_repro.runstate import RunState

    cfg = compose_config(TINY)
    for content in (None, "{{{: not yaml", "- a list\n"):
        run_dir = tmp_path / str(content is None) / str(len(content or ""))
        run_dir.mkdir(parents=True)
        RunState(path=run_dir / "state.json").save()
        if content is not None:
            (run_dir / "config.yaml").write_text(content)
        with pytest.raises(RunStateError) as error:
            open_run(cfg, run_dir)
        assert error.value.setting == "resume" and "\n" not in str(error.value)


def test_an_unreadable_state_json_exits_2_naming_it(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "state.json").write_text("{not json")
    code, output = call_main([*TINY, f"hydra.run.dir={run_dir}"])
    assert code == EXIT_CODES[RunStateError] == 2, output
    one_error_line(code, output, "resume")
    assert f"{run_dir / 'state.json'} is unreadable" in output


OTHER_FORMATS = {  # what another gan-repro leaves in state.json -> the refusal's words for it
    "no format_version": "made by another gan-repro format (none recorded;",
    "the next format": f"made by another gan-repro format ({FORMAT_VERSION + 1};",
    "no state.json": "has no state.json, so its format is unknown",
}


def restamp(run_dir: Path, other: str) -> None:
    """Make run_dir's state.json what a gan-repro of another format would have left (OTHER_FORMATS' keys)."""
    path = run_dir / STATE_NAME
    if other == "no state.json":
        path.unlink()
        return
    state = json.loads(path.read_text())
    del state["format_version"]
    if other == "the next format":
        state["format_version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(state))


@pytest.mark.parametrize("other", ["no format_version", "the next format"])
def test_a_run_of_another_format_is_not_resumed(tmp_path: Path, other: str) -> None:
    from gan_repro.pipeline import open_run

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    open_run(compose_config(TINY), run_dir)  # what a first start leaves: config.yaml and state.json
    restamp(run_dir, other)
    kept = {name: (run_dir / name).read_bytes() for name in (STATE_NAME, "config.yaml", "environment.json")}
    code, output = call_main([*TINY, f"hydra.run.dir={run_dir}"])
    assert code == EXIT_CODES[RunStateError] == 2, output
    one_error_line(code, output, f"{run_dir}: {OTHER_FORMATS[other]}")
    assert f"gan-repro {gan_repro.__version__} reads format {FORMAT_VERSION}); rerun its command" in output
    assert {name: (run_dir / name).read_bytes() for name in kept} == kept  # nothing of the run changed


@pytest.mark.parametrize("other", list(OTHER_FORMATS))
def test_a_run_folder_of_another_format_is_not_read(tiny_run, tmp_path: Path, capsys, other: str) -> None:
    """gan-repro-plot and gan-repro-check on the run and on a sweep holding it, api.load_run and load_sweep:
    each refuses in one line, and no file of the run is rewritten."""
    run_dir = Path(shutil.copytree(tiny_run[1], tmp_path / "sweep" / "0"))
    restamp(run_dir, other)
    summary = (run_dir / "summary.json").read_bytes()
    for command in (plot_main, check_main):
        for folder in (run_dir, tmp_path / "sweep"):
            assert command([str(folder)]) == EXIT_CODES[RunStateError], (command, folder)
            (line,) = capsys.readouterr().err.splitlines()
            assert line.startswith(f"error: {run_dir}: {OTHER_FORMATS[other]}"), line
    for load, folder in ((api.load_run, run_dir), (api.load_sweep, tmp_path / "sweep")):
        with pytest.raises(RunStateError) as error:
            load(folder)
        assert str(error.value).startswith(f"{run_dir}: {OTHER_FORMATS[other]}")
    assert (run_dir / "summary.json").read_bytes() == summary


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_malicious_checkpoint_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"generator": Exploit()}, path, pickle_module=pickle)
    with pytest.raises(CheckpointRefused) as error:
        load_checkpoint(path, {}, setting="checkpoint", needs=("generator",))
    message = str(error.value)
    assert message.endswith(REFUSED) and "weights_only" not in message and "\n" not in message


def test_a_malicious_last_checkpoint_exits_2_on_resume(tmp_path: Path) -> None:
    from gan_repro.pipeline import open_run

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    open_run(compose_config(TINY), run_dir)  # what a first start leaves: config.yaml and state.json
    (run_dir / "checkpoints").mkdir()
    torch.save({"generator": Exploit()}, run_dir / "checkpoints" / "last.pt", pickle_module=pickle)
    code, output = call_main([*TINY, f"hydra.run.dir={run_dir}"])
    assert code == EXIT_CODES[CheckpointRefused] == 2, output
    one_error_line(code, output, "resume")
    assert f"last.pt: {REFUSED}" in output


# ----------------------------------------------------------------------------- property-based
WHOLE_RANGES = {  # each sampled key and the whole numbers it accepts (README: Bad input); None: no top
    "seed": (0, SEED_MAX),
    "train.epochs": (1, None),
    "train.batch_size": (1, None),
    "probe.iterations": (1, None),
    "dataset.image_size": (1, IMAGE_SIZE_MAX),
}
KEYS_WHOLE = list(WHOLE_RANGES)
VALUES = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["abc", "1.5", "[1,2]", "null", "true", "''", "1e400", "-0"]),
)
OVERRIDES = st.one_of(
    st.tuples(st.sampled_from(KEYS_WHOLE), VALUES).map(lambda kv: [f"{kv[0]}={kv[1]}"]),
    st.tuples(st.sampled_from(["foo", "train.foo", "probe.x"]), VALUES).map(lambda kv: [f"+{kv[0]}={kv[1]}"]),
    st.sampled_from([["dataset.image_size=4096"], ["train.batch_size=100000000"], ["seed=2**64"]]),
)


def whole_in_range(key: str, value: object) -> bool:
    """Whether value is a whole number (not a bool) within the key's range in WHOLE_RANGES."""
    low, high = WHOLE_RANGES[key]
    whole = isinstance(value, int) and not isinstance(value, bool)
    return whole and low <= value and (high is None or value <= high)


@settings(max_examples=120, **QUICK)
@given(overrides=OVERRIDES)
def test_generated_overrides_are_accepted_or_refused_in_one_line(overrides: list[str]) -> None:
    """In-process (no run): compose and check each generated override. A value outside its key's range
    must be refused naming that key; anything but our one-line error (or Hydra's one-line refusal of the
    override's syntax) would be a traceback for the user."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    assert all(key in RULES for key in KEYS_WHOLE)  # each sampled key has its rule (an emptied table fails)
    unknown = unknown_added_key(overrides)
    if unknown is not None:  # refused by check_added_keys before composing, not by RULES
        assert overrides[0].startswith("+") and unknown in overrides[0]
        return
    key = overrides[0].split("=", 1)[0]
    try:
        cfg = compose_config([*TINY, *overrides])
    except GanReproError as error:  # a value of the wrong type for its key (schema.py), refused in composing
        assert error.setting == key and "\n" not in str(error), (overrides, error)
        return
    except (HydraException, OmegaConfBaseException, ValueError):
        return  # cli.composed turns these into one `overrides:` line
    value = OmegaConf.select(cfg, key)
    try:
        check_config(cfg)
    except GanReproError as error:
        assert "\n" not in str(error)
        allowed = (
            (key, "train.snapshot_epochs", "dataset.image_size") if whole_in_range(key, value) else (key,)
        )
        assert error.setting in allowed, (overrides, error)
        return
    assert whole_in_range(key, value), f"{overrides} was accepted: {value!r} is outside {key}'s range"


FILE_CASES = st.tuples(
    st.sampled_from(["truncated", "tiny", "not_an_image", "rewritten"]),
    st.integers(min_value=1, max_value=64),
)


@settings(max_examples=8, **QUICK)
@given(case=FILE_CASES)
def test_generated_image_trees_give_no_traceback(tmp_path: Path, case) -> None:
    kind, size = case
    root = tmp_path / "trees" / f"{kind}-{size}-{os.urandom(3).hex()}"
    write_images(root, [(20, 20)] * 90)  # 22 held out, 68 to train on (batch 64)
    victim = root / "003.png"
    if kind == "truncated":
        victim.write_bytes(victim.read_bytes()[:size])
    elif kind == "tiny":
        write_images(root / "tiny", [(1, 1)])
    elif kind == "not_an_image":
        victim.write_bytes(os.urandom(size))
    else:  # rewritten with another image's bytes at the same size, and the old mtime put back
        stat, other = victim.stat(), (root / "004.png").read_bytes()
        victim.write_bytes((other + b"\0" * stat.st_size)[: stat.st_size])
        os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    code, output = call_main(
        [
            *TINY,
            "dataset=image_folder",
            f"dataset.root={root}",
            "train.epochs=1",
            "train.snapshot_epochs=[1]",
            "probe.iterations=1",
            "probe.log_every=1",
            "plot.formats=[png]",
            f"cache_dir={tmp_path / 'cache'}",
            f"hydra.run.dir={tmp_path / 'runs' / root.name}",
        ]
    )
    assert "Traceback" not in output, output
    if code != 0:
        one_error_line(code, output, "dataset.")
        assert output.split("error: ")[1].startswith(("dataset.root", "dataset.bad_images")), output


def test_a_busy_run_folder_is_refused_naming_its_holder_and_freed_when_the_holder_dies(
    tmp_path: Path,
) -> None:
    with run_folder_lock(tmp_path):  # this process holds it: another lock on the folder is refused
        assert not lock_is_free(tmp_path)
        with pytest.raises(RunFolderBusy, match=f"in use by another gan-repro run \\(pid {os.getpid()}\\)"):
            with run_folder_lock(tmp_path):
                pass
    assert lock_is_free(tmp_path) and not (tmp_path / HOLDER_NAME).exists()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD.format(folder=str(tmp_path))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"  # the lock is taken before this line is written
        assert not lock_is_free(tmp_path)
        with pytest.raises(RunFolderBusy, match=f"\\(pid {holder.pid}\\)"):
            with run_folder_lock(tmp_path):
                pass
    finally:
        holder.kill()  # SIGKILL: no cleanup runs; the operating system releases the lock
        holder.wait()
    assert lock_is_free(tmp_path)
    with run_folder_lock(tmp_path):
        assert (tmp_path / HOLDER_NAME).read_text().strip() == str(os.getpid())


def test_a_busy_run_folder_exits_2_through_the_command_line(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with run_folder_lock(run_dir):  # this process holds it: the command's run is refused
        code, output = call_main([*TINY, f"hydra.run.dir={run_dir}"])
    assert code == EXIT_CODES[RunFolderBusy] == 2, output
    one_error_line(code, output, "hydra.run.dir")
    assert f"in use by another gan-repro run (pid {os.getpid()})" in output


HOLD = (  # a process that takes a run folder's lock, says so, and keeps it until it is killed
    "import sys, time\n"
    "from gan_repro.runstate import run_folder_lock\n"
    "with run_folder_lock({folder!r}):\n"
    "    print('held', flush=True)\n"
    "    time.sleep(3600)\n"
)
