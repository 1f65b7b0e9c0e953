"""experiment=updates on a tiny setting: updates.csv's rows and columns, k = 0 is the snapshot's own G, the
transport cosine and the cost gradients against plain autograd, determinism and resume, the figure from the
CSV alone, the claims (and that they can fail), and the settings' one-line refusals."""

from __future__ import annotations

import copy
import itertools
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from omegaconf import DictConfig

from gan_repro.checkpoints import load_generator, snapshots
from gan_repro.columns import columns_of
from gan_repro.data import batches_per_epoch
from gan_repro.distances import exact_wasserstein, transport_partners
from gan_repro.errors import ConfigError, RunStateError
from gan_repro.losses import Objective, generator_loss
from gan_repro.models import LinearDiscriminator, MLPGenerator
from gan_repro.pipeline import load_splits, run, updates_stage
from gan_repro.plot import draw_updates_figure, save_figure
from gan_repro.report import format_value, updates_changes, updates_claims
from gan_repro.steps import generator_step
from gan_repro.transport import cosine, transport_gradient
from gan_repro.updates import (
    FIXED_Z,
    check_updates,
    cost_gradients,
    derived_seed,
    real_images,
)
from tests.helpers import REPO, TINY, compose_config, run_script, undeclared_columns

pytestmark = pytest.mark.integration

# the tiny setting, with experiment=updates' measurements shrunk: 64 images a kind, a short linear control
UPDATES = [*TINY, "experiment=updates", "updates.samples=64", "updates.linear_iterations=20"]
STAGES = [0, 10, 12]  # [0, 10, 100, 1000, 4000] clipped to the tiny probe's 12 iterations


@pytest.fixture(scope="module")
def updates_run(tmp_path_factory) -> tuple[DictConfig, Path, dict]:
    """One finished tiny experiment=updates run (config, folder, summary), for the tests that read it."""
    cfg = compose_config(UPDATES)
    run_dir = tmp_path_factory.mktemp("updates_run")
    return cfg, run_dir, run(cfg, run_dir)


def test_updates_csv_has_a_row_per_snapshot_stage_cost_and_k(updates_run) -> None:
    """Per snapshot the paper's D's arms (stage x cost x k), then the momentum control's k."""
    _, run_dir, summary = updates_run
    table = pd.read_csv(run_dir / "updates.csv")
    assert list(table.columns) == columns_of("updates.csv") and undeclared_columns(run_dir) == {}
    expected = [
        row
        for snapshot in (24, 48)
        for row in [
            *itertools.product([snapshot], ["gan"], STAGES, ["minimax", "nonsaturating"], [0, 1, 5, 20]),
            *itertools.product([snapshot], ["none"], [0], ["momentum"], [0, 1, 5, 20]),
        ]
    ]
    keys = ["snapshot_iteration", "critic", "d_stage", "cost", "k"]
    assert list(table[keys].itertuples(index=False)) == expected
    assert table["snapshot_epoch"].tolist() == [1.0] * 28 + [2.0] * 28
    momentum = table[table["critic"] == "none"]
    assert momentum[["d_accuracy_heldout", "d_accuracy_fakes", "grad_norm"]].isna().all().all()
    for snapshot, rows in momentum.groupby("snapshot_iteration"):  # the saved momentum alone moves G
        assert rows["wasserstein_exact"].iloc[-1] != rows["wasserstein_exact"].iloc[0], snapshot
    table = table[table["critic"] == "gan"]
    first = table["k"] == 0
    assert table.loc[first, ["grad_norm", "transport_cosine"]].notna().all().all()  # at k = 0 only
    assert table.loc[~first, ["grad_norm", "transport_cosine"]].isna().all().all()
    assert (table.loc[first, "grad_norm"] > 0).all()
    assert table["transport_cosine"].dropna().between(-1, 1).all()
    assert table["wasserstein_exact_real_real"].nunique() == 1  # the floor: once per run
    for _, rows in table[first].groupby("snapshot_iteration"):  # G_0 on the same z in every arm
        assert rows["wasserstein_exact"].nunique() == 1 and rows["linear_accuracy_heldout"].nunique() == 1
    moved = table[(table["k"] == 20) & (table["d_stage"] == 12)]  # 20 steps do move G's samples
    assert (
        moved["wasserstein_exact"] != table.loc[first & (table["d_stage"] == 12), "wasserstein_exact"].values
    ).all()
    accuracies = table[["d_accuracy_heldout", "d_accuracy_fakes", "linear_accuracy_heldout"]].stack()
    assert accuracies.between(0, 1).all()
    assert [claim["id"] for claim in summary["claims"]][-3:] == [
        "updates_strong_d_worsens",
        "updates_worse_than_momentum",
        "updates_weak_d_improves",
    ]
    assert len(summary["updates"]) == 2 * (len(STAGES) * 2 + 1)  # per snapshot: stage and cost; momentum
    assert (run_dir / "figures" / "updates.png").stat().st_size > 1000
    assert json.loads((run_dir / "state.json").read_text())["updates_complete"] is True


def test_k0_is_the_snapshots_own_generator_exactly(updates_run) -> None:
    """At k = 0 G is the snapshot as saved: its exact W1 on the fixed z to the held-out images is the one a
    freshly loaded G gives, to the last bit, and the change from k = 0 is exactly 0."""
    cfg, run_dir, _ = updates_run
    table = pd.read_csv(run_dir / "updates.csv")
    splits = load_splits(cfg.dataset, torch.device("cpu"), False)
    images = real_images(splits, int(cfg.updates.samples), cfg.seed, torch.device("cpu"), torch.float32)
    for snapshot in (24, 48):
        generator = load_generator(
            run_dir / "checkpoints" / f"iteration_{snapshot:06d}.pt",
            cfg.model,
            cfg.dataset,
            device=torch.device("cpu"),
        ).to(memory_format=torch.channels_last)  # the run's layout (performance.channels_last)
        rng = torch.Generator().manual_seed(derived_seed(cfg.seed, snapshot, FIXED_Z))
        z = torch.randn(len(images.heldout), int(cfg.model.nz), generator=rng)
        with torch.no_grad():
            samples = torch.cat([generator(part) for part in z.split(int(cfg.train.batch_size))])
        rows = table[(table["snapshot_iteration"] == snapshot) & (table["k"] == 0)]
        assert (rows["wasserstein_exact"] == exact_wasserstein(images.heldout, samples)).all()
    assert (updates_changes(table).loc[table["k"] == 0, "w1_change"] == 0).all()


def brute_force_partners(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """The assignment of fakes to reals with the least total squared distance, by trying every permutation."""
    costs = torch.cdist(fake.flatten(1).double(), real.flatten(1).double()) ** 2
    best = min(
        itertools.permutations(range(len(fake))), key=lambda p: sum(costs[i, j] for i, j in enumerate(p))
    )
    return torch.tensor(best)


def test_the_transport_cosine_is_one_when_the_cost_is_the_transport_loss() -> None:
    """The transport gradient (in uneven chunks) equals plain autograd of 1/2 mean ||G(z) - x*||^2 with the
    brute-force optimal partners, so its cosine with that cost's gradient is 1; with its negation -1."""
    torch.manual_seed(0)
    generator = MLPGenerator(
        image_size=4, nz=3, hidden=8, channels=1
    ).double()  # no BatchNorm: chunks don't matter
    z, real = torch.randn(5, 3, dtype=torch.float64), torch.rand(5, 1, 4, 4, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        fake = generator(z)
    partners = transport_partners(fake, real)
    assert torch.equal(partners, brute_force_partners(fake, real))
    transport = transport_gradient(generator, z, real[partners], chunk=2)
    loss = 0.5 * (generator(z) - real[partners]).flatten(1).pow(2).sum(dim=1).mean()
    reference = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(generator.parameters()))])
    assert torch.allclose(transport, reference, rtol=1e-12, atol=1e-15)
    assert cosine(reference, transport) == pytest.approx(1.0, abs=1e-12)
    assert cosine(-reference, transport) == pytest.approx(-1.0, abs=1e-12)
    assert cosine(torch.zeros_like(transport), transport) is None  # an underflowed gradient has no direction


def test_cost_gradients_are_the_costs_gradients_with_their_sign() -> None:
    """cost_gradients (scaled against underflow, in uneven chunks) times its scale is autograd's gradient of
    each generator cost over the whole batch: the sign the probe's norms leave out is put back."""
    torch.manual_seed(1)
    generator = MLPGenerator(image_size=4, nz=3, hidden=8, channels=1).double()
    discriminator = LinearDiscriminator(image_size=4, channels=1).double()
    z = torch.randn(7, 3, dtype=torch.float64)
    costs = ["minimax", "nonsaturating"]
    scales, directions = cost_gradients(generator, discriminator, z, costs, chunk=3, batched=False)
    for index, cost in enumerate(costs):
        loss = generator_loss(discriminator(generator(z)), cost)
        reference = torch.cat(
            [g.reshape(-1) for g in torch.autograd.grad(loss, list(generator.parameters()))]
        )
        assert torch.allclose(scales[index].exp() * directions[index], reference, rtol=1e-10, atol=1e-14)


def test_updates_are_deterministic_and_resume_to_the_same_csv(updates_run, tmp_path) -> None:
    """The stage run again into another folder writes the same updates.csv, byte for byte; so does one that
    resumes from a file holding the first snapshot's rows and a torn line of the second."""
    cfg, run_dir, _ = updates_run
    splits = load_splits(cfg.dataset, torch.device("cpu"), False)
    frozen = snapshots(cfg.train, batches_per_epoch(splits.train, cfg.train.batch_size), run_dir)
    expected = (run_dir / "updates.csv").read_bytes()
    again = tmp_path / "again"
    again.mkdir()
    updates_stage(cfg, snapshots=frozen, splits=splits, run_dir=again, device=torch.device("cpu"))
    assert (again / "updates.csv").read_bytes() == expected
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    lines = expected.splitlines(keepends=True)
    (resumed / "updates.csv").write_bytes(b"".join(lines[:30]) + lines[30][:20])  # header, 28 rows, 1.5 of 56
    updates_stage(cfg, snapshots=frozen, splits=splits, run_dir=resumed, device=torch.device("cpu"))
    assert (resumed / "updates.csv").read_bytes() == expected


def test_the_figure_is_drawn_from_updates_csv_alone(updates_run, tmp_path) -> None:
    _, run_dir, _ = updates_run
    shutil.copy(run_dir / "updates.csv", tmp_path / "updates.csv")  # nothing else in the folder
    figure = draw_updates_figure(pd.read_csv(tmp_path / "updates.csv"))
    axes = figure.get_axes()
    assert len(axes) == 2 * 2  # the change in W1 and the transport cosine, per snapshot
    for row, axis in enumerate(axes):  # row by row: the two changes, then the two cosines
        momentum = 1 if row < 2 else 0  # the momentum control's level line, beside the change only
        assert len(axis.get_lines()) == 2 + 1 + momentum  # one line per cost, and the zero line
        assert list(axis.get_xticks()) == STAGES  # the fresh D (0) apart, on a symlog axis
    (path,) = save_figure(figure, tmp_path / "figures", "updates", ["png"])
    assert path.stat().st_size > 1000


def test_a_step_against_a_weak_d_improves_an_early_snapshot(updates_run) -> None:
    """The control, on the tiny setting, where it could fail: 20 -log D steps against the D of stage 10 lower
    the earliest snapshot's W1 over its floor."""
    _, _, summary = updates_run
    control = next(claim for claim in summary["claims"] if claim["id"] == "updates_weak_d_improves")
    assert control["snapshots"] == ["24"] and control["measured"][0] < 0
    assert control["holds"] is True and "10 iterations" in control["unit"]


def test_the_updates_claims_can_fail(updates_run) -> None:
    """The same table with the last step's W1 moved: the worsening claim holds only where every snapshot's W1
    rises against the strongest D, the momentum claim only where it rises by more than the momentum control's,
    the control only where the earliest snapshot's falls against a weak one. A table without the paper's D
    measures none of them, and one from before the critic column is refused in one line."""
    _, run_dir, _ = updates_run
    table = pd.read_csv(run_dir / "updates.csv")

    def verdicts(shift: float, momentum_shift: float = 0.0) -> dict[str, bool | None]:
        moved = table.copy()
        keys, column = ["snapshot_iteration", "critic", "d_stage", "cost"], "wasserstein_exact_over_floor"
        start = moved.groupby(keys)[column].transform("first")  # k = 0's
        last, control = moved["k"] == 20, moved["critic"] == "none"
        moved.loc[last, column] = start[last] + shift
        moved.loc[last & control, column] = start[last & control] + momentum_shift
        return {claim["id"]: claim["holds"] for claim in updates_claims(moved, {})}

    ids = ("updates_strong_d_worsens", "updates_worse_than_momentum", "updates_weak_d_improves")
    assert verdicts(+0.1) == dict(zip(ids, (True, True, False), strict=True))
    assert verdicts(-0.1) == dict(zip(ids, (False, False, True), strict=True))
    assert verdicts(+0.1, momentum_shift=+0.2) == dict(zip(ids, (True, False, False), strict=True))
    only_minimax = updates_claims(table[table["cost"] == "minimax"], {})  # no -log D arm: not measured
    assert [claim["holds"] for claim in only_minimax] == [None, None, None]
    no_paper_d = updates_claims(table[table["critic"] != "gan"], {})  # updates.critics=[wgan]: no crash
    assert [claim["holds"] for claim in no_paper_d] == [None, None, None]
    with pytest.raises(RunStateError, match=r"^updates.csv: has no critic column: an older gan-repro"):
        updates_claims(table.drop(columns="critic"), {})


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("updates.steps=[1,5]", r"^updates.steps: must be a list of distinct whole numbers >= 0 holding 0 "),
        ("updates.costs=[minimax,hinge]", r"^updates.costs: must be a list of distinct costs drawn from "),
        ("updates.d_stages=[10,10]", r"^updates.d_stages: must be a list of distinct whole numbers >= 0, "),
        ("updates.samples=1", r"^updates.samples: must be a whole number >= 2, got 1$"),
        ("critic=wgan", r"^updates.critics: gan is not one of the run's critics \(wgan\): add it to critic="),
        ("updates.critics=[]", r"^updates.critics: must be a list of distinct critic names"),
        ("updates.critics=[gan,gan]", r"^updates.critics: must be a list of distinct critic names"),
        ("critic=[gan,wgan]", None),  # wgan is probed beside gan, but G steps against the paper's D only
        ("updates.critics=[gan,wgan]", r"^updates.critics: wgan is not one of the run's critics \(gan, "),
        ("noise=constant", r"^noise: experiment=updates measures the noiseless protocol"),
    ],
)
def test_bad_updates_settings_are_refused_in_one_line(override: str, message: str | None) -> None:
    if message is None:
        check_updates(compose_config([*UPDATES, override]))
        return
    with pytest.raises(ConfigError, match=message) as refused:
        check_updates(compose_config([*UPDATES, override]))
    assert "\n" not in str(refused.value)


def test_a_critic_without_a_generator_cost_is_refused() -> None:
    """critic=linear (the control's logistic regression) has no generator cost: G cannot step against it."""
    config = [*UPDATES, "updates.critics=[gan,linear]"]  # the default critics: gan and linear (Fig. 1)
    with pytest.raises(ConfigError, match=r"^updates.critics: critic linear has no generator cost"):
        check_updates(compose_config(config))


def test_a_second_run_copies_updates_csv_from_the_cache(tmp_path, caplog) -> None:
    """With the cache on, a second run with the same inputs takes updates.csv from the cache (keyed by the
    probe's inputs and updates.*), the same bytes; another updates setting computes it again."""
    cached = [*UPDATES, "cache=true", "updates.steps=[0,2]", "train.snapshot_epochs=[1]"]
    run(compose_config(cached), tmp_path / "first")
    with caplog.at_level("INFO", logger="gan_repro.pipeline"):
        run(compose_config(cached), tmp_path / "second")
    assert "updates: using the cached results" in caplog.text
    assert (tmp_path / "second" / "updates.csv").read_bytes() == (
        tmp_path / "first" / "updates.csv"
    ).read_bytes()
    caplog.clear()
    with caplog.at_level("INFO", logger="gan_repro.pipeline"):
        run(compose_config([*cached, "updates.steps=[0,3]"]), tmp_path / "third")
    assert "updates: using the cached results" not in caplog.text
    assert pd.read_csv(tmp_path / "third" / "updates.csv")["k"].max() == 3


def test_the_gradients_page_is_written_from_updates_csv(updates_run, tmp_path) -> None:
    """scripts/gradients_page.py: docs/gradients.md's table holds updates.csv's numbers (a verdict and the
    change in W1 over its floor per snapshot, D stage and cost) and the run's claims, typed by no one."""
    _, run_dir, _ = updates_run
    page = tmp_path / "gradients.md"
    done = run_script(REPO / "scripts" / "gradients_page.py", str(run_dir), f"--out={page}", "--intro=none")
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    changes = updates_changes(pd.read_csv(run_dir / "updates.csv"))
    final = changes[(changes["k"] == changes["k"].max()) & (changes["critic"] == "gan")]
    assert text.count("\n| gan | epoch ") == len(final)  # one row per snapshot, D stage and cost
    for change in final["w1_change"]:
        verdict = "helps 1/1" if change < 0 else "hurts 1/1" if change > 0 else "mixed"
        assert f"{verdict}: {format_value(float(change))} |" in text
    assert "**updates_strong_d_worsens**: holds in" in text and "**updates_weak_d_improves**" in text
    missing = run_script(REPO / "scripts" / "gradients_page.py", str(tmp_path / "nothing"), f"--out={page}")
    assert missing.returncode != 0 and "error:" in missing.stderr and page.read_text() == text


# experiment=updates with two more critics, listed before the paper's D, one with a shorter budget: G also
# steps against WGAN's critic (its own cost, -E D(G(z)), for 8 iterations) and R1's logistic D (both costs)
CRITICS = [
    *UPDATES,
    "critic=[gan,wgan,gan_r1]",
    "updates.critics=[wgan,gan_r1,gan]",
    "critic.wgan.iterations=8",
]
KS = [0, 1, 5, 20]


@pytest.fixture(scope="module")
def critics_run(tmp_path_factory) -> tuple[DictConfig, Path, dict]:
    """One finished tiny run whose G steps against WGAN's critic, R1's D and the paper's D, in that order."""
    cfg = compose_config(CRITICS)
    run_dir = tmp_path_factory.mktemp("updates_critics_run")
    return cfg, run_dir, run(cfg, run_dir)


def test_each_critic_steps_g_with_its_own_cost(critics_run, updates_run) -> None:
    """Per snapshot each critic's rows in updates.critics' order, each with its own cost and its stages within
    its own length, then the momentum control. WGAN's critic has no accuracy (no decision threshold). The
    paper's D's rows and the momentum control's are the gan-only run's, to the last bit, though two critics
    ran before them: the arms share seeds, not random streams. The claims read the paper's D alone, though
    R1's D has a -log D arm too."""
    _, run_dir, summary = critics_run
    table = pd.read_csv(run_dir / "updates.csv")
    keys = ["snapshot_iteration", "critic", "d_stage", "cost", "k"]
    expected = [
        row
        for snapshot in (24, 48)
        for row in [
            *itertools.product([snapshot], ["wgan"], [0, 8], ["wasserstein"], KS),
            *itertools.product([snapshot], ["gan_r1"], STAGES, ["nonsaturating", "minimax"], KS),
            *itertools.product([snapshot], ["gan"], STAGES, ["minimax", "nonsaturating"], KS),
            *itertools.product([snapshot], ["none"], [0], ["momentum"], KS),
        ]
    ]
    assert list(table[keys].itertuples(index=False)) == expected
    wgan = table[table["critic"] == "wgan"]
    assert wgan[["d_accuracy_heldout", "d_accuracy_fakes"]].isna().all().all()
    assert (wgan.loc[wgan["k"] == 0, "grad_norm"] > 0).all()
    assert table.loc[table["critic"] == "gan_r1", "d_accuracy_heldout"].between(0, 1).all()
    alone = pd.read_csv(updates_run[1] / "updates.csv")
    shared = table[table["critic"].isin(["gan", "none"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(shared, alone)
    paper_only = updates_claims(alone, {})
    assert [(claim["measured"], claim["holds"]) for claim in summary["claims"][-3:]] == [
        (claim["measured"], claim["holds"]) for claim in paper_only
    ]
    assert {record["critic"] for record in summary["updates"]} == {"wgan", "gan_r1", "gan", "none"}


@pytest.mark.parametrize("kind", ["wasserstein", "least_squares", "objective"])
def test_a_generator_step_descends_the_critics_own_cost(kind: str) -> None:
    """steps.generator_step with a critic's cost is one Adam step along minus that cost's gradient: WGAN's
    -E l, LSGAN's 1/2 E (l - 1)^2, a user's objective's own; a flipped sign or another cost fails."""

    class Doubled(Objective):
        def generator_cost(self, fake: torch.Tensor) -> torch.Tensor:
            return 2 * torch.nn.functional.softplus(-fake).mean()

    costs = {
        "wasserstein": (lambda logits: -logits.mean(), "wasserstein"),
        "least_squares": (lambda logits: 0.5 * (logits - 1).pow(2).mean(), "least_squares"),
        "objective": (lambda logits: 2 * torch.nn.functional.softplus(-logits).mean(), Doubled()),
    }
    reference, cost = costs[kind]
    torch.manual_seed(0)
    generator, discriminator = torch.nn.Linear(3, 4), torch.nn.Linear(4, 1)
    twin = copy.deepcopy(generator)
    z = torch.randn(5, 3)
    stepped, expected = torch.optim.Adam(generator.parameters()), torch.optim.Adam(twin.parameters())
    generator_step(lambda x: discriminator(x).squeeze(1), stepped, generator(z), cost)
    expected.zero_grad()
    reference(discriminator(twin(z)).squeeze(1)).backward()
    expected.step()
    for ours, theirs in zip(generator.parameters(), twin.parameters(), strict=True):
        assert torch.equal(ours, theirs)


def test_the_figure_and_the_page_show_every_critic(critics_run, tmp_path) -> None:
    """The updates figure has a line per critic and cost (5 here) and the momentum control's level; the page
    a table row per critic, stage, cost and snapshot, the momentum control's table, and the strongest-D table
    one row per critic, cost and snapshot, each at its critic's own last stage."""
    _, run_dir, _ = critics_run
    figure = draw_updates_figure(pd.read_csv(run_dir / "updates.csv"))
    for row, axis in enumerate(figure.get_axes()):
        assert len(axis.get_lines()) == 5 + 1 + (1 if row < 2 else 0)
    page = tmp_path / "gradients.md"
    done = run_script(REPO / "scripts" / "gradients_page.py", str(run_dir), f"--out={page}", "--intro=none")
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert text.count("\n| wgan | epoch ") == 2 * 2 and text.count("\n| gan_r1 | epoch ") == 2 * 2 * 3
    assert "The momentum control" in text
    strongest = text.split("its strongest D")[1].split("![")[0]  # that table, up to the figure
    assert strongest.count("\n| wgan | -E D(G(z)) | epoch ") == 2  # one row a snapshot
    assert strongest.count("\n| gan | -log D (Fig. 3) | epoch ") == 2
    assert strongest.count("| 8 |") == 2 and strongest.count("| 12 |") == (2 + 2) * 2  # their last stages
