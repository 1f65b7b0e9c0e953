"""A content-addressed cache for the expensive stages: trained generators, probe results (and
experiment=updates' updates.csv).

A stage's key is a hash of everything that determines its output: for training, the dataset and its
files, the model, the loss, the training noise, the seed, the epochs and snapshots, the batch, the
optimizer, the distances measured at snapshots, the settings that change the arithmetic (memory
layout, autocast, compile, device type, CPU threads, torch version) and the source of the package modules
training's code reaches (STAGE_ROOTS, walked through their imports: stage_code); for the probe, the training
key plus every probe setting and the probe's own modules. Which config keys a stage's key holds is declared
once, by each key's `affects` in schema.py (declared_inputs): a key declared to affect training is in the
training key with nothing to add here. So `experiment=fig1` then `experiment=fig2` only redraws, a sweep
over probe settings trains once, and an edited probe.py probes again with the same generators. A user's own
dataset, networks or critic objective (`_target_`, extend.py) add the source file of each target's module
to the key of the stage that uses it.

    <cache_dir>/train/<key>/   manifest.json, train.csv, snapshots.csv, checkpoints/iteration_*.pt, samples/
    <cache_dir>/probe/<key>/   manifest.json, probe.csv
    <cache_dir>/updates/<key>/ manifest.json, updates.csv (experiment=updates: the probe's key and updates.*)

Checkpoints and sample images are hard links between the cache and the runs that made or reused them
(one copy on disk), with a plain copy where the two sit on different filesystems; CSVs are copied.

An entry is copied into place under a temporary name and renamed, and manifest.json (written last)
marks it complete, so no reader sees half an entry. Jobs that ask for the same entry at once take its
lock: one computes, the others wait, then reuse it.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

import gan_repro
from gan_repro.data import BUNDLED_DATASETS, FILE_DATASETS, bundled_source
from gan_repro.extend import is_user_dataset, source_digests
from gan_repro.files import content_digest, file_lock, sha256_file, write_json
from gan_repro.imports import import_graph, module_files, reachable
from gan_repro.noise import stage_schedule
from gan_repro.prepare import source_fingerprint
from gan_repro.probe import use_batched_backward
from gan_repro.schema import TRAIN, stage_keys, unaffecting

log = logging.getLogger(__name__)

STAGE_FILES = {  # what a stage leaves in the run folder, as globs relative to it
    "train": ("train.csv", "snapshots.csv", "checkpoints/iteration_*.pt", "samples/*.png"),
    "probe": ("probe.csv",),
    "updates": ("updates.csv",),
}


# Where each stage's code starts. A module is followed through everything it imports (imports.reachable);
# module:function is only that function's text: the pipeline functions that hand the stage its inputs (the
# pipeline module itself imports every stage and the plotting, which decide none of these numbers).
STAGE_ROOTS = {
    "train": (
        "gan_repro.train",
        "gan_repro.prepare",  # build_dataset: the images training sees
        "gan_repro.pipeline:load_splits",
        "gan_repro.pipeline:train_stage",
        "gan_repro.pipeline:seed_everything",  # the global RNG G's and D's initial weights come from
        "gan_repro.pipeline:run_locked",  # which seeds it, before the stages
        "gan_repro.pipeline:run_stages",  # what it hands training (the split, the data's device)
    ),
    "probe": (
        "gan_repro.probe",
        "gan_repro.pipeline:probe_stage",
        "gan_repro.pipeline:run_stages",  # which snapshots the probe gets, and from where
    ),
    "updates": ("gan_repro.updates", "gan_repro.pipeline:updates_stage"),
}


def function_source(path: Path, name: str) -> str:
    """The text of the top-level function `name` of the module at path."""
    source = path.read_text()
    for node in ast.parse(source, filename=str(path)).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(source, node) or ""
    raise LookupError(f"{path} has no function {name}, which cache.STAGE_ROOTS names")


def stage_code(stage: str) -> dict[str, Any]:
    """The package source a stage's results depend on: the modules its roots reach and the pipeline functions
    they name, listed, and one hash of the package's version and all their text. Editing probe.py changes
    the probe's, not training's; plot.py and report.py are in neither."""
    root = Path(gan_repro.__file__).parent.parent  # read at each call: tests point it at a copy
    files = module_files(root)
    modules = reachable(import_graph(root), [name for name in STAGE_ROOTS[stage] if ":" not in name])
    texts = {module: files[module].read_bytes() for module in modules}
    for named in STAGE_ROOTS[stage]:
        if ":" in named:
            module, _, function = named.partition(":")
            texts[named] = function_source(files[module], function).encode()
    digest = hashlib.sha256(gan_repro.__version__.encode())
    for name in sorted(texts):
        digest.update(f"\n{name} {hashlib.sha256(texts[name]).hexdigest()}".encode())
    return {"digest": digest.hexdigest()[:16], "modules": sorted(texts)}


def stage_files(stage: str, folder: Path) -> list[Path]:
    """The files a stage left under folder (STAGE_FILES), relative to it."""
    return sorted(path.relative_to(folder) for pattern in STAGE_FILES[stage] for path in folder.glob(pattern))


NUMERIC_PACKAGES = ("torch", "numpy", "scipy", "Pillow", "scikit-learn")  # their versions decide numbers too


def package_versions(names: Sequence[str] = NUMERIC_PACKAGES) -> dict[str, str]:
    """The installed versions of these packages (by default those whose arithmetic or decoding the results
    depend on); torch's with its build (+cpu, +cu121)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "absent"
    if "torch" in versions:
        versions["torch"] = torch.__version__  # the build (+cpu, +cu121) as well as the release
    return versions


def dataset_fingerprint(dataset_cfg: DictConfig, store: Path | None = None) -> dict[str, Any]:
    """What identifies the dataset's files: each file's content hash (remembered in `store` by path, size,
    mtime and ctime); for the bundled digits and photos, the scikit-learn (and Pillow) versions. A user's
    dataset: the files under its dataset.root, if it has one (its loader's source: source_digests)."""
    if is_user_dataset(dataset_cfg) and not dataset_cfg.get("root"):
        return {}
    if dataset_cfg.name in BUNDLED_DATASETS:
        return bundled_source()
    root = Path(str(dataset_cfg.root)).expanduser()
    if dataset_cfg.name in FILE_DATASETS:
        return source_fingerprint(dataset_cfg, store)
    paths = [path for path in sorted(root.rglob("*")) if path.is_file() and not path.name.endswith(".part")]
    return content_digest(paths, root=root, store=store)


def cpu_threads(device: torch.device) -> int | None:
    """The CPU thread count, on a CPU: it changes the order of sums, which GAN training amplifies."""
    return torch.get_num_threads() if device.type == "cpu" else None


def plain(node: DictConfig) -> Any:
    """A config node as plain, resolved Python data."""
    return OmegaConf.to_container(node, resolve=True)


def hash_store(cfg: DictConfig) -> Path:
    """Where the SHA-256 of the files a key covers (data files, another run's snapshots) is remembered."""
    return Path(str(cfg.cache_dir)).expanduser() / "file-hashes.json"


def declared_inputs(
    cfg: DictConfig, stage: str, resolved: dict[str, Callable[[], Any]] | None = None
) -> dict[str, Any]:
    """The values of every key the schema declares to affect `stage` (schema.stage_keys), nested as in the
    config ({"train": {"epochs": 25, ...}, "seed": 0, ...}) and resolved; a key in `resolved` enters as what
    its function returns instead (a device's type, a schedule, files' hashes)."""
    resolved = resolved or {}
    inputs: dict[str, Any] = {}
    for name in stage_keys(stage):
        *nodes, leaf = name.split(".")
        place = inputs
        for part in nodes:
            place = place.setdefault(part, {})
        value = resolved[name]() if name in resolved else OmegaConf.select(cfg, name)
        place[leaf] = plain(value) if OmegaConf.is_config(value) else value
    return inputs


def data_identity(dataset_cfg: DictConfig) -> dict[str, Any]:
    """The dataset node less the keys that change no training result (schema.GROUP_KEYS: how its files are
    fetched, not what they hold), its root as an absolute path."""
    dataset = {
        key: value for key, value in plain(dataset_cfg).items() if key not in unaffecting("dataset", TRAIN)
    }
    if dataset.get("root"):
        dataset["root"] = str(Path(str(dataset["root"])).expanduser().resolve())
    return dataset


def training_inputs(cfg: DictConfig, device: torch.device) -> dict[str, Any]:
    """Everything the training stage's outputs depend on: every key declared to affect it, with the dataset's
    files, the code, the package versions and the arithmetic's place (device type, CPU threads)."""
    return {
        "stage": "train",
        "code": stage_code("train"),
        "versions": package_versions(),
        "device": device.type,  # the device= setting resolved: auto and cpu are the same place on a CPU
        "cpu_threads": cpu_threads(device),
        "files": dataset_fingerprint(cfg.dataset, hash_store(cfg)),
        "extensions": source_digests(cfg.dataset, cfg.model),  # a user's loader and networks: their files
        "clip_sigmas": cfg.noise.clip_sigmas,
        **declared_inputs(
            cfg,
            "train",
            {
                "dataset": lambda: data_identity(cfg.dataset),
                "noise": lambda: repr(stage_schedule(cfg.noise, "train")),  # the schedule training uses
            },
        ),
    }


def generators_fingerprint(cfg: DictConfig) -> dict[str, Any] | None:
    """probe.generators_from: what the other run's snapshot files hold (their SHA-256, remembered in
    cache_dir/file-hashes.json); None when this run trains its own."""
    if cfg.probe.get("generators_from") is None:
        return None
    source = Path(str(cfg.probe.generators_from)).expanduser().resolve()
    paths = [source / relative for relative in stage_files("train", source) if relative.suffix == ".pt"]
    return content_digest(paths, root=source, store=hash_store(cfg))


def probe_inputs(cfg: DictConfig, device: torch.device) -> dict[str, Any]:
    """Everything the probe's probe.csv depends on: the trained generators (the training key) and every key
    declared to affect the probe: its settings, every critic's, the probe's noise."""
    return {
        "stage": "probe",
        "code": stage_code("probe"),
        "train_key": key_of(training_inputs(cfg, device)),  # with generators_from: still the data's identity
        "extensions": source_digests(cfg.critic),  # a user's objectives and architectures: their files
        "critic_order": list(
            cfg.critic
        ),  # the key sorts the node's names; probe.csv's rows follow this order
        "clip_sigmas": cfg.noise.clip_sigmas,
        "cpu_threads": cpu_threads(device),
        **declared_inputs(
            cfg,
            "probe",
            {
                "noise": lambda: repr(stage_schedule(cfg.noise, "probe")),
                "probe.batched_backward": lambda: use_batched_backward(cfg.probe.batched_backward, device),
                "probe.generators_from": lambda: generators_fingerprint(cfg),  # what its snapshots hold
            },
        ),
    }


def updates_inputs(cfg: DictConfig, device: torch.device) -> dict[str, Any]:
    """Everything experiment=updates' updates.csv depends on: the probe's inputs (the generators, the D's
    protocol and seeds; a few, such as probe.log_every, change nothing here, and only cost a recomputation),
    the distances' projections (in the training key) and every updates setting."""
    return {
        "stage": "updates",
        "code": stage_code("updates"),
        "probe": probe_inputs(cfg, device),
        **declared_inputs(cfg, "updates"),
    }


STAGE_INPUTS = {"train": training_inputs, "probe": probe_inputs, "updates": updates_inputs}


def key_of(inputs: dict[str, Any]) -> str:
    """The content address of a stage's inputs."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:24]


LINKED_SUFFIXES = (".pt", ".png")  # written once, replaced atomically, never edited in place: safe to share


def link_or_copy(source: Path, target: Path) -> None:
    """Hard-link source to target when it is a checkpoint or an image and both are on one filesystem (no
    second copy of 20 MB of checkpoints per run); copy otherwise (CSVs, which runs append to, always)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    if source.suffix in LINKED_SUFFIXES:
        try:
            os.link(source, target)
            return
        except OSError:  # another filesystem, or links not allowed: a plain copy
            pass
    shutil.copyfile(source, target)


class StageEntry:
    """One stage's cache entry: look it up, copy it into a run folder, or publish a run folder's files.

    manifest.json lists every file of the entry with its size and SHA-256; each reuse checks them all. An
    entry that fails the check (edited, torn, truncated, missing a file) is moved aside as
    `<key>.damaged-<time>`, logged in one line, and computed again: it is never copied into a run."""

    def __init__(self, root: Path, stage: str, inputs: dict[str, Any]):
        self.stage, self.inputs, self.key = stage, inputs, key_of(inputs)
        self.folder = Path(root).expanduser() / stage / self.key

    @property
    def complete(self) -> bool:
        return (self.folder / "manifest.json").is_file()

    @contextmanager
    def locked(self) -> Iterator[StageEntry]:
        """Hold the entry's lock: concurrent jobs with the same key wait here while one computes it. Staging
        folders a killed job left for this key are removed first (no one else can be writing them)."""
        with file_lock(self.folder.parent / f".{self.key}.lock"):
            for staging in self.folder.parent.glob(f".{self.key}.*.tmp"):
                shutil.rmtree(staging, ignore_errors=True)
            yield self

    def files(self, folder: Path) -> list[Path]:
        """The stage's files under folder, relative to it."""
        return stage_files(self.stage, folder)

    def damage(self) -> str | None:
        """None when every file the manifest lists is there with its size and SHA-256, else what is wrong."""
        try:
            manifest = json.loads((self.folder / "manifest.json").read_text())
            listed = manifest["files"]
            if manifest.get("key") != self.key or not isinstance(listed, dict) or not listed:
                return "its manifest.json is not this entry's"
        except (OSError, ValueError, KeyError, TypeError) as error:
            return f"its manifest.json is unreadable ({error.__class__.__name__})"
        for relative, expected in sorted(listed.items()):
            path = self.folder / relative
            try:
                if path.stat().st_size != expected["size"]:
                    return f"{relative} has {path.stat().st_size} bytes, not {expected['size']}"
                if sha256_file(path) != expected["sha256"]:
                    return f"{relative} differs from its SHA-256 in manifest.json"
            except OSError as error:
                return f"{relative} cannot be read ({error.strerror or error})"
            except (KeyError, TypeError):
                return "its manifest.json is not this entry's"
        return None

    def move_aside(self, why: str) -> Path:
        """Rename the entry to <key>.damaged-<time> (kept for inspection), and say so in one line."""
        target = self.folder.with_name(f"{self.key}.damaged-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}")
        try:
            os.replace(self.folder, target)
        except OSError:  # a read-only cache: the entry stays, but is still not used
            target = self.folder
        log.warning(
            "cache: %s entry %s is damaged (%s); moved aside to %s, computing it again",
            self.stage, self.folder, why, target.name,
        )  # fmt: skip
        return target

    def restore(self, run_dir: Path) -> bool:
        """Put a complete, verified entry's files into run_dir (checkpoints and samples hard-linked); False if
        there is none, or it was damaged (then it is moved aside)."""
        if not self.complete:
            return False
        why = self.damage()
        if why is not None:
            self.move_aside(why)
            return False
        listed = json.loads((self.folder / "manifest.json").read_text())["files"]
        for relative in sorted(listed):
            link_or_copy(self.folder / relative, Path(run_dir) / relative)
        return True

    def publish(self, run_dir: Path) -> None:
        """Copy run_dir's stage files into the cache: a temporary folder renamed into place, manifest last.
        A cache that cannot be written (full, read-only) costs only the reuse: the run goes on, and no
        staging folder is left behind."""
        staging = self.folder.with_name(f".{self.key}.{os.getpid()}.tmp")
        try:
            shutil.rmtree(staging, ignore_errors=True)
            listed = {}
            for relative in self.files(run_dir):
                link_or_copy(run_dir / relative, staging / relative)
                listed[str(relative)] = {
                    "size": (staging / relative).stat().st_size,
                    "sha256": sha256_file(staging / relative),
                }
            shutil.rmtree(self.folder, ignore_errors=True)  # an incomplete or damaged entry left by a job
            os.replace(staging, self.folder)
            write_json(
                self.folder / "manifest.json",
                {
                    "stage": self.stage,
                    "key": self.key,
                    "inputs": self.inputs,
                    "from_run": str(run_dir),
                    "files": listed,
                },
            )
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            if not (self.folder / "manifest.json").is_file():
                shutil.rmtree(self.folder, ignore_errors=True)
            log.warning(
                "cache: could not store the %s results in %s (%s: %s); the run goes on without caching them",
                self.stage, self.folder, error.filename or self.folder, error.strerror or error,
            )  # fmt: skip
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


class NoCache:
    """Stands in for a StageEntry when cache=false: nothing is found, nothing is kept."""

    complete, key, folder = False, None, None

    @contextmanager
    def locked(self) -> Iterator[NoCache]:
        yield self

    def restore(self, run_dir: Path) -> bool:
        return False

    def publish(self, run_dir: Path) -> None:
        return None


def stage_entry(cfg: DictConfig, stage: str, device: torch.device) -> StageEntry | NoCache:
    """The cache entry for `stage` of this config (NoCache when cfg.cache is false)."""
    if not cfg.cache:
        return NoCache()
    return StageEntry(Path(str(cfg.cache_dir)), stage, STAGE_INPUTS[stage](cfg, device))
