"""experiment=updates: take the generator steps Figure 3's caption warns about, and measure the samples.

The caption ends: "All these gradients lead to updates that lower sample quality notoriously." Nothing else
here ever steps G. For each snapshot and each critic of updates.critics (default: the paper's D, critic=gan)
that critic's D trains from scratch by the probe's protocol (probe.SnapshotProbe.trained: its own optimizer
and length, the same initial weights, data order and seeds; no measurement in between). At each D stage t of
updates.d_stages (clipped to that critic's probe length) a frozen copy of that D is taken, and for each cost
(against the paper's D: updates.costs, Figs. 2-3's two; against any other critic: its own generator_costs,
e.g. WGAN's -E D(G(z))) a copy of G with the Adam state the snapshot saved (optimizer_g: Adam as in
training, its moments and step count) takes max(updates.steps) steps on the cost against it
(steps.generator_step, z batches of train.batch_size). At each k of updates.steps the updated G_k is
measured on one fixed batch z of n = updates.samples latents:

    wasserstein_exact             W1(G_k(z), X_heldout), exact, against n held-out real images
    wasserstein_exact_real_real   W1(X_train, X_heldout): n training images against the same held-out
                                  ones, what W1 of n samples reads for a perfect G (the floor, once a run)
    wasserstein_exact_over_floor  their ratio; the figure and the claims read its change from k = 0
    sliced_wasserstein            sliced W1(G_k(z), X_heldout), the same projections in every row
    linear_accuracy_heldout       the linear control: logistic regression on pixels (critic=linear's D)
                                  trained for updates.linear_iterations Adam steps on X_train against
                                  G_k(z), then its accuracy on X_heldout against n fresh fakes G_k(z')
    d_accuracy_heldout            the frozen D on X_heldout against G_0(z): how strong this stage's D is
                                  (by its objective's decision threshold; blank for a Wasserstein critic)
    d_accuracy_fakes              the share of G_k(z) the frozen D calls fake: did the steps fool it?
The momentum control (critic `none`, cost `momentum`, once per snapshot): the same copy of G and its saved
Adam state take the same max(updates.steps) Adam steps with a zero gradient, no D: what training's momentum
alone does to G (Adam's first steps carry it: beta1 = 0.5). A cost's effect is its change beyond this one.
and at k = 0 (G unchanged), on the same batch, for the row's cost:
    grad_norm          || grad_theta cost ||_2, scaled against underflow as the probe's norms are
    transport_cosine   cos(grad_theta cost, grad_theta T), T = 1/2 mean_i ||G(z_i) - x*_i||^2 with x*_i, held
                       fixed, the partner of G(z_i) among the n training images in an optimal assignment
                       under the squared Euclidean cost (distances.transport_partners). -grad T =
                       E[J^T (x* - G(z))] is the transport direction, so this is the cosine of the two descent
                       directions: 1 moves the samples along the coupling towards the data, 0 is unrelated to
                       it, < 0 moves them away.

Seeds: the steps' z batches, the fixed z and the fresh z' come from generators seeded from (seed, snapshot)
alone, so every arm of a snapshot (critic, D stage, cost) sees the same z and images, and its k = 0 is the
same G_0(z); the images are the same for every snapshot. The arms run under torch.random.fork_rng, so D's
training draws what it would without them. Everything runs in probe.dtype (fp32), TF32 and autocast off.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn as nn
from omegaconf import DictConfig, OmegaConf

from gan_repro.checkpoints import Snapshot, load_generator_state
from gan_repro.columns import columns_of
from gan_repro.config import Rule, check_rules, list_of, whole
from gan_repro.critics import Critic
from gan_repro.data import DataSplits, sample_images
from gan_repro.distances import exact_wasserstein, sliced_wasserstein, transport_partners
from gan_repro.errors import ConfigError
from gan_repro.logger import CSVLogger
from gan_repro.losses import (
    GENERATOR_LOSSES,
    OWN_COST,
    Objective,
    decision_accuracy,
    discriminator_accuracy,
    discriminator_loss,
)
from gan_repro.models import build_discriminator, build_generator, requires_grad
from gan_repro.noise import NoiseSchedule, stage_schedule
from gan_repro.probe import (
    PROBE_DTYPES,
    ProbeUnit,
    SnapshotProbe,
    exact_float_math,
    probe_length,
    scaled_cost_gradients,
    use_batched_backward,
)
from gan_repro.report import MOMENTUM_CONTROL, PAPER_CRITIC, snapshot_words
from gan_repro.runstate import Interrupted, RunControl, keep_rows
from gan_repro.steps import derived_seed, generator_step, make_adam, memory_format, sample_z, take_step
from gan_repro.transport import cosine, signed_directions, transport_gradient

log = logging.getLogger(__name__)

# what each seed is for: derived_seed(seed, snapshot, purpose), or derived_seed(seed, purpose) for the images
STEP_Z, FIXED_Z, FRESH_Z, LINEAR_D, IMAGES, PROJECTIONS = range(6)


def whole_numbers(minimum: int, *, holding: int | None = None) -> Rule:
    """A non-empty list of distinct whole numbers >= minimum (that holds `holding`, if given)."""

    def accepts(value: Any) -> bool:
        return (
            OmegaConf.is_list(value)
            and len(value) > 0
            and all(whole(minimum).accepts(item) for item in value)
            and len(set(value)) == len(value)
            and (holding is None or holding in value)
        )

    return Rule(
        accepts,
        f"a list of distinct whole numbers >= {minimum}"
        + ("" if holding is None else f" holding {holding} (the unchanged G every change is measured from)"),
    )


COSTS = list_of(GENERATOR_LOSSES)
SETTINGS: dict[str, Rule] = {  # updates.<key> (conf/experiment/updates.yaml), checked before any work
    "critics": Rule(
        lambda value: (
            OmegaConf.is_list(value)
            and len(value) > 0
            and all(isinstance(name, str) for name in value)
            and len(set(value)) == len(value)
        ),
        "a list of distinct critic names, each one of the run's critics (critic=...)",
    ),
    "d_stages": whole_numbers(0),
    "costs": Rule(
        lambda value: COSTS.accepts(value) and len(set(value)) == len(value),
        f"a list of distinct costs drawn from {', '.join(GENERATOR_LOSSES)}",
    ),
    "steps": whole_numbers(0, holding=0),
    "samples": whole(2),  # two images at least: a distance between samples needs them
    "linear_iterations": whole(),
}


def check_updates(cfg: DictConfig) -> None:
    """updates.*: each key's rule, then what the experiment needs of other keys: each of updates.critics
    among the run's critics, with a generator cost to step on, and no instance noise (G's steps and the
    measurements take none); one line naming the key."""
    check_rules(cfg.updates, SETTINGS, prefix="updates.")
    for name in cfg.updates.critics:
        if name not in cfg.critic:
            with_it = ",".join([*cfg.critic, name])
            raise ConfigError(
                "updates.critics",
                f"{name} is not one of the run's critics ({', '.join(cfg.critic)}): add it to critic= (e.g. "
                f"critic='[{with_it}]', or experiment=updates_critics), or drop it from updates.critics",
            )
        if name in MOMENTUM_CONTROL[:1]:
            raise ConfigError("updates.critics", f"{name} names the momentum control, not a critic; drop it")
        if name != PAPER_CRITIC and not cfg.critic[name].generator_costs:
            raise ConfigError(
                "updates.critics",
                f"critic {name} has no generator cost for G to step on (critic.{name}.generator_costs is "
                "empty): drop it from updates.critics",
            )
    if cfg.probe.get("noise_stds") is not None or any(
        stage_schedule(cfg.noise, stage).kind != "none" for stage in ("train", "probe")
    ):
        raise ConfigError(
            "noise",
            "experiment=updates measures the noiseless protocol: use noise=none and probe.noise_stds=null",
        )


def d_stages(updates_cfg: DictConfig, iterations: int) -> list[int]:
    """updates.d_stages clipped to the critic's probe length (4000 becomes probe.iterations), sorted, once
    each."""
    return sorted({min(int(stage), int(iterations)) for stage in updates_cfg.d_stages})


def step_costs(updates_cfg: DictConfig, critic: Critic) -> list[str | Objective]:
    """The costs G steps with against a critic's D: updates.costs against the paper's D (Figs. 2-3's two),
    every other critic's own generator_costs (WGAN's and the hinge loss's -E l, LSGAN's 1/2 E (l - 1)^2)."""
    return list(updates_cfg.costs) if critic.name == PAPER_CRITIC else list(critic.generator_costs)


def cost_name(kind: str | Objective) -> str:
    """updates.csv's cost: a built-in cost's name, or `objective` for a user's objective's own cost."""
    return OWN_COST if isinstance(kind, Objective) else kind


def updates_critics(updates_cfg: DictConfig, critic_cfg: DictConfig) -> list[Critic]:
    """The critics of updates.critics, in that order, read from their critic.<name> nodes."""
    return [Critic.from_node(str(name), critic_cfg[name]) for name in updates_cfg.critics]


def critic_stages(updates_cfg: DictConfig, probe_cfg: DictConfig, critic: Critic) -> list[int]:
    """The D stages of one critic: updates.d_stages within its own probe length (critic.<name>.iterations)."""
    return d_stages(updates_cfg, probe_length(probe_cfg, critic))


def decision_rate(logits: torch.Tensor, critic: Critic) -> float | None:
    """The share of samples the critic's D calls fake (output below its objective's decision threshold);
    None where it has none (a Wasserstein critic: its value is defined up to a constant)."""
    empty = logits[:0]
    accuracy = decision_accuracy(empty, logits, critic.objective)  # no reals: the fakes' share below
    return None if accuracy is None else float(accuracy)


@dataclass(frozen=True)
class RealImages:
    """The run's real images, n of each, in the measurements' dtype: training images (the linear control's
    reals, the transport partners), held-out ones (what W1 is measured against), and the W1 between them."""

    train: torch.Tensor  # (n, C, H, W)
    heldout: torch.Tensor  # (n, C, H, W)
    floor: float  # exact W1(train, heldout)


def real_images(
    splits: DataSplits, count: int, seed: int, device: torch.device, dtype: torch.dtype
) -> RealImages:
    """n = min(count, either split) distinct images of each split, drawn once per run; a log line when fewer
    than asked."""
    rng = torch.Generator().manual_seed(derived_seed(seed, IMAGES))
    heldout = sample_images(splits.heldout, count, rng=rng)
    train = sample_images(splits.train, count, rng=rng)
    n = min(len(heldout), len(train))  # unreadable images are left out
    if n < count:
        log.warning(
            "updates: %d images of each kind, not updates.samples=%d: the held-out split is smaller", n, count
        )
    heldout, train = heldout[:n], train[:n]
    return RealImages(train.to(device, dtype), heldout.to(device, dtype), exact_wasserstein(train, heldout))


def generate(generator: nn.Module, z: torch.Tensor, chunk: int) -> torch.Tensor:
    """G(z), (n, C, H, W), in chunks of `chunk` latents (BatchNorm in train mode: batches as in training)."""
    with torch.no_grad():
        return torch.cat([generator(part) for part in z.split(chunk)])


def logits_of(discriminator: nn.Module, images: torch.Tensor, chunk: int) -> torch.Tensor:
    """D's logits (n,) on images, float64, in chunks of `chunk` (D in train mode: batches as in the probe)."""
    with torch.no_grad():
        return torch.cat([discriminator(part) for part in images.split(chunk)]).double()


def cost_gradients(
    generator: nn.Module,
    discriminator: nn.Module,
    z: torch.Tensor,
    costs: list[str],
    *,
    chunk: int,
    batched: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per cost, G's gradient of the cost averaged over all of z (chunks weighted by their size), as
    (log scale (K,), direction (K, P)), both float64: gradient = exp(log scale) * direction. Each chunk's
    gradient comes scaled by its largest slope (probe.scaled_cost_gradients), so a minimax gradient of 1e-30
    is 1e-30, not 0; the chunks are brought to the largest scale before they are summed."""
    scales, directions = [], []
    for part in z.split(chunk):
        log_peaks, gradients, _, _ = scaled_cost_gradients(
            generator, discriminator, part, kinds=costs, batched=batched
        )
        scales.append(log_peaks)
        directions.append(signed_directions(gradients, costs) * (len(part) / len(z)))
    scales_by_chunk = torch.stack(scales)  # (chunks, K)
    top = scales_by_chunk.max(dim=0).values  # (K,)
    weights = torch.exp(scales_by_chunk - top)  # (chunks, K), in (0, 1]
    return top, sum(
        weight[:, None] * direction for weight, direction in zip(weights, directions, strict=True)
    )


@dataclass
class UpdateArms:
    """What stepping G against a frozen D needs, and the measurements of each G_k: settings, images, seeds."""

    model_cfg: DictConfig
    dataset_cfg: DictConfig
    train_cfg: DictConfig
    updates_cfg: DictConfig
    projections: int  # distance.projections, for the sliced W1
    batched: bool  # probe.batched_backward, resolved for the device
    seed: int
    device: torch.device
    dtype: torch.dtype
    layout: torch.memory_format
    images: RealImages
    control: RunControl

    @property
    def chunk(self) -> int:
        """G's batches (train.batch_size): its steps, and the chunks it generates and differentiates in."""
        return int(self.train_cfg.batch_size)

    def latents(self, snapshot: int, purpose: int, count: int) -> torch.Tensor:
        """A z batch (count, nz) from its own generator, seeded from (seed, snapshot, purpose)."""
        rng = torch.Generator(self.device).manual_seed(derived_seed(self.seed, snapshot, purpose))
        return sample_z(count, int(self.model_cfg.nz), device=self.device, dtype=self.dtype, rng=rng)

    def generator(self, state: dict[str, Any]) -> tuple[nn.Module, torch.optim.Adam]:
        """A fresh copy of the snapshot's G (train mode, as in training) with its Adam state as training left
        it: the optimizer is built after G is moved, and load_state_dict moves the moments to G's device."""
        generator = build_generator(
            self.model_cfg,
            image_size=int(self.dataset_cfg.image_size),
            channels=int(self.dataset_cfg.channels),
        )
        generator.load_state_dict(state["generator"])
        generator = generator.to(self.device, self.dtype, memory_format=self.layout)
        optimizer = make_adam(generator, self.train_cfg)
        # a copy: load_state_dict keeps the saved tensors themselves, and Adam updates its moments and step
        # count in place, so without it each arm would start where the arm before it stopped
        optimizer.load_state_dict(copy.deepcopy(state["optimizer_g"]))
        return generator, optimizer

    def sliced(self, samples: torch.Tensor) -> float:
        """Sliced W1 to the held-out images, with the same projections in every row."""
        rng = torch.Generator().manual_seed(derived_seed(self.seed, PROJECTIONS))
        return sliced_wasserstein(self.images.heldout, samples, projections=self.projections, rng=rng)

    def linear_accuracy(self, fakes: torch.Tensor, fresh: torch.Tensor, snapshot: int) -> float:
        """The linear control: logistic regression on pixels (models.LinearDiscriminator, critic=linear's D;
        Adam as in training) trained for updates.linear_iterations steps on batches of the training images
        against `fakes`, then its accuracy on the held-out images against `fresh` fakes. Its initial weights
        and batch order come from (seed, snapshot): two arms of a snapshot differ only in their fakes."""
        torch.manual_seed(derived_seed(self.seed, snapshot, LINEAR_D))  # under fork_rng: the init only
        linear = build_discriminator(
            self.model_cfg,
            image_size=int(self.dataset_cfg.image_size),
            channels=int(self.dataset_cfg.channels),
            architecture="linear",
        ).to(self.device, self.dtype)
        optimizer = make_adam(linear, self.train_cfg)
        order = torch.Generator().manual_seed(derived_seed(self.seed, snapshot, LINEAR_D))
        count, batch = len(fakes), min(self.chunk, len(fakes))
        for _ in range(int(self.updates_cfg.linear_iterations)):
            real_rows, fake_rows = (torch.randint(count, (batch,), generator=order) for _ in range(2))
            take_step(
                optimizer, discriminator_loss(linear(self.images.train[real_rows]), linear(fakes[fake_rows]))
            )
        with torch.no_grad():
            return float(discriminator_accuracy(linear(self.images.heldout).double(), linear(fresh).double()))

    def measure(
        self, generator: nn.Module, samples: torch.Tensor, fresh_z: torch.Tensor, snapshot: int
    ) -> dict[str, Any]:
        """What G's samples on the fixed batch z are worth: exact W1 (and over its floor) and sliced W1 to the
        held-out images, and the linear control's held-out accuracy (fresh fakes from fresh_z)."""
        exact = exact_wasserstein(self.images.heldout, samples)
        return {
            "wasserstein_exact": exact,
            "wasserstein_exact_real_real": self.images.floor,
            "wasserstein_exact_over_floor": exact / self.images.floor,
            "sliced_wasserstein": self.sliced(samples),
            "linear_accuracy_heldout": self.linear_accuracy(
                samples, generate(generator, fresh_z, self.chunk), snapshot
            ),
        }

    def stage_rows(
        self,
        snapshot: Snapshot,
        critic: Critic,
        stage: int,
        discriminator: nn.Module,
        state: dict[str, Any],
        unchanged: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """Every row of one critic's D stage: D frozen, for each of its costs one trajectory of max(steps)
        G steps from the snapshot (the same z batches for every cost), measured at each k. `unchanged` holds
        what does not depend on D (the fixed z, G_0's measures, the transport gradient), once per snapshot."""
        costs, steps = step_costs(self.updates_cfg, critic), sorted(int(k) for k in self.updates_cfg.steps)
        z, fresh_z = unchanged["z"], unchanged["fresh_z"]
        generator, _ = self.generator(state)
        log_scales, directions = cost_gradients(
            generator, discriminator, z, costs, chunk=self.chunk, batched=self.batched
        )
        heldout_logits = logits_of(discriminator, self.images.heldout, self.chunk)
        fixed_logits = logits_of(discriminator, generate(generator, z, self.chunk), self.chunk)
        strength = decision_accuracy(heldout_logits, fixed_logits, critic.objective)
        stage_values = {
            "snapshot_iteration": snapshot.iteration,
            "snapshot_epoch": snapshot.epoch,
            "critic": critic.name,
            "d_stage": stage,
            "d_accuracy_heldout": None if strength is None else float(strength),
        }
        rows = []
        for index, cost in enumerate(costs):
            generator, optimizer = self.generator(state)
            seeded = derived_seed(self.seed, snapshot.iteration, STEP_Z)
            step_rng = torch.Generator(self.device).manual_seed(seeded)  # the same batches for every arm
            taken = 0
            for k in steps:
                for _ in range(k - taken):  # Adam as in training, D fixed (steps.generator_step)
                    batch = sample_z(
                        self.chunk, int(self.model_cfg.nz), device=self.device, dtype=self.dtype, rng=step_rng
                    )
                    generator_step(discriminator, optimizer, generator(batch), cost)
                taken = k
                samples = generate(generator, z, self.chunk)
                row = {
                    **stage_values,
                    "cost": cost_name(cost),
                    "k": k,
                    **(
                        unchanged["measures"]
                        if k == 0  # G_0: measured once per snapshot, the same numbers in every arm
                        else self.measure(generator, samples, fresh_z, snapshot.iteration)
                    ),
                    "d_accuracy_fakes": decision_rate(logits_of(discriminator, samples, self.chunk), critic),
                }
                if k == 0:
                    row["grad_norm"] = float(log_scales[index].exp() * directions[index].norm())
                    row["transport_cosine"] = cosine(directions[index], unchanged["transport"])
                rows.append(row)
        return rows

    def momentum_rows(
        self, snapshot: Snapshot, state: dict[str, Any], unchanged: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The momentum control: G with its saved Adam state takes max(steps) Adam steps on a zero gradient
        (no D, no z), measured at each k as the arms are: what the saved momentum alone moves G."""
        steps = sorted(int(k) for k in self.updates_cfg.steps)
        generator, optimizer = self.generator(state)
        rows, taken = [], 0
        for k in steps:
            for _ in range(k - taken):
                for parameter in generator.parameters():  # zeros, not None: Adam skips a missing gradient
                    parameter.grad = torch.zeros_like(parameter)
                optimizer.step()
            taken = k
            samples = generate(generator, unchanged["z"], self.chunk)
            measured = (
                unchanged["measures"]
                if k == 0
                else self.measure(generator, samples, unchanged["fresh_z"], snapshot.iteration)
            )
            rows.append(
                {
                    "snapshot_iteration": snapshot.iteration,
                    "snapshot_epoch": snapshot.epoch,
                    "critic": MOMENTUM_CONTROL[0],
                    "d_stage": 0,
                    "cost": MOMENTUM_CONTROL[1],
                    "k": k,
                    **measured,
                }
            )
        return rows

    def unchanged(self, state: dict[str, Any], snapshot: int) -> dict[str, Any]:
        """What every arm of a snapshot shares: the fixed z and fresh z', G_0's measures on them, and the
        transport gradient of G_0 (its partners among the training images, by optimal assignment)."""
        count = len(self.images.heldout)
        z, fresh_z = self.latents(snapshot, FIXED_Z, count), self.latents(snapshot, FRESH_Z, count)
        generator, _ = self.generator(state)
        samples = generate(generator, z, self.chunk)
        partners = self.images.train[transport_partners(samples, self.images.train).to(self.device)]
        return {
            "z": z,
            "fresh_z": fresh_z,
            "measures": self.measure(generator, samples, fresh_z, snapshot),
            "transport": transport_gradient(generator, z, partners, self.chunk),
        }


def fork_devices(device: torch.device) -> list[int]:
    """The CUDA devices whose RNG fork_rng must save and restore (none on a CPU)."""
    return [device.index or 0] if device.type == "cuda" else []


def snapshot_rows(
    arms: UpdateArms, snapshot_probe: SnapshotProbe, snapshot: Snapshot, critics: list[Critic]
) -> list[dict[str, Any]]:
    """Every row of one snapshot: per critic its D trained by the probe's protocol, and at each of its
    stages the arms; then the momentum control."""
    state = load_generator_state(snapshot.path, arms.model_cfg, arms.dataset_cfg)
    with torch.random.fork_rng(devices=fork_devices(arms.device)):
        shared = arms.unchanged(state, snapshot.iteration)
    rows: list[dict[str, Any]] = []
    for critic in critics:
        frozen, _ = arms.generator(state)  # the fakes of D's steps (snapshot_probe.source freezes it)
        length = probe_length(snapshot_probe.probe_cfg, critic)
        unit = ProbeUnit(snapshot.iteration, snapshot.epoch, NoiseSchedule(), None, critic, length)
        stages = critic_stages(arms.updates_cfg, snapshot_probe.probe_cfg, critic)
        for stage, discriminator in snapshot_probe.trained(frozen, unit, stages):
            held = copy.deepcopy(discriminator)  # frozen: D goes on training after this stage
            requires_grad(held, False)
            with torch.random.fork_rng(devices=fork_devices(arms.device)):  # D's training draws as without us
                rows += arms.stage_rows(snapshot, critic, stage, held, state, shared)
            if arms.control.stop.requested:
                raise Interrupted(f"updates of snapshot {snapshot.iteration}, {critic.name}, D stage {stage}")
    with torch.random.fork_rng(devices=fork_devices(arms.device)):  # the linear control seeds the global RNG
        rows += arms.momentum_rows(snapshot, state, shared)
    return rows


def rows_per_snapshot(updates_cfg: DictConfig, probe_cfg: DictConfig, critics: list[Critic]) -> int:
    """updates.csv's rows for one snapshot: per critic, its D stages x its costs x k; and the momentum
    control's k."""
    return len(updates_cfg.steps) + sum(
        len(critic_stages(updates_cfg, probe_cfg, critic))
        * len(step_costs(updates_cfg, critic))
        * len(updates_cfg.steps)
        for critic in critics
    )


def finished_snapshots(path: Path, expected: int) -> set[int]:
    """Resume: keep the rows of the snapshots updates.csv holds in full (a snapshot's rows are written
    together), drop the rest (a torn last line too); the snapshots kept."""
    if not path.is_file():
        return set()
    keep_rows(path, lambda rows: rows.groupby("snapshot_iteration")["k"].transform("size") == expected)
    return set(pd.read_csv(path)["snapshot_iteration"].astype(int)) if path.is_file() else set()


def run_updates(
    updates_cfg: DictConfig,
    *,
    probe_cfg: DictConfig,
    critic_cfg: DictConfig,
    model_cfg: DictConfig,
    dataset_cfg: DictConfig,
    train_cfg: DictConfig,
    distance_cfg: DictConfig,
    performance_cfg: DictConfig,
    clip_sigmas: float,
    seed: int,
    num_workers: int,
    snapshots: list[Snapshot],
    splits: DataSplits,
    run_dir: Path,
    device: torch.device,
    control: RunControl | None = None,
) -> Path:
    """Write updates.csv: every snapshot's rows (snapshots it already holds in full are kept); returns it."""
    path, control = Path(run_dir) / "updates.csv", control or RunControl()
    critics = updates_critics(updates_cfg, critic_cfg)
    dtype = PROBE_DTYPES[probe_cfg.dtype]
    expected = rows_per_snapshot(updates_cfg, probe_cfg, critics)
    done = finished_snapshots(path, expected)
    todo = [snapshot for snapshot in snapshots if snapshot.iteration not in done]
    d_iterations = sum(max(critic_stages(updates_cfg, probe_cfg, critic)) for critic in critics)
    progress = control.progress(len(todo) * d_iterations, desc="updates")
    with (
        exact_float_math(device),
        CSVLogger(path, columns_of("updates.csv"), buffer_rows=expected, mirror=control.mirror) as logger,
    ):
        images = real_images(splits, int(updates_cfg.samples), seed, device, dtype)
        arms = UpdateArms(
            model_cfg, dataset_cfg, train_cfg, updates_cfg, int(distance_cfg.projections),
            use_batched_backward(probe_cfg.batched_backward, device), seed, device, dtype,
            memory_format(performance_cfg), images, control,
        )  # fmt: skip
        snapshot_probe = SnapshotProbe(
            probe_cfg,
            model_cfg,
            dataset_cfg,
            performance_cfg,
            clip_sigmas,
            seed,
            num_workers,
            splits,
            device,
            logger,
            control,
            progress,
        )  # fmt: skip; the logger is never written by trained(): it takes no measurement
        for snapshot in todo:
            log.info(
                "updates: G after %s; critics %s, D stages %s, G steps %s; %d images a kind (floor W1 %.3f)",
                snapshot_words(snapshot.iteration, snapshot.epoch), list(updates_cfg.critics),
                list(updates_cfg.d_stages), list(updates_cfg.steps), len(images.heldout), images.floor,
            )  # fmt: skip
            rows = snapshot_rows(arms, snapshot_probe, snapshot, critics)
            control.check_rows(  # before they are written: a snapshot on disk is a finished one
                rows,
                ("wasserstein_exact", "grad_norm"),
                lambda row: (
                    f"updates of snapshot {row['snapshot_iteration']}, {row['critic']}'s D stage "
                    f"{row['d_stage']}, {row['cost']}, k = {row['k']}"
                ),
            )
            for row in rows:
                logger.log(row)
            logger.flush()
    progress.close()
    return path
