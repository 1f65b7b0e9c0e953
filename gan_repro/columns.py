"""Every column of every CSV a run writes (and a sweep's claims files), declared once, in file order.

A column says what it means, whether it spans orders of magnitude (log_scale: a log axis, geometric means
in summary.json, critics.csv and the sweep figures), whether a run stops when it turns NaN or inf
(finite_check, on_nonfinite), its words on a figure's axis (label) and its heading in report.md's table of
its file (heading). The writers take their headers from here (columns_of), the readers their sets, and
docs/outputs-columns.md is written from it (scripts/columns_page.py). Nothing of gan_repro is imported: every
module may import this one.
"""

from __future__ import annotations

from dataclasses import dataclass

GRADIENT_NORMS = "gradient norms"  # probe.csv: G's gradient norm, one column per family of generator costs
PLATEAU_GRADIENT = "plateau gradient"  # critics.csv: G's gradient at the critic's plateau (blank where none)


@dataclass(frozen=True)
class Column:
    """One CSV column: its name and file, what it holds, and how the code treats it."""

    name: str
    file: str
    meaning: str
    log_scale: bool = False  # spans orders of magnitude: drawn on a log axis, averaged in log space
    finite_check: bool = False  # NaN or inf stops the run (on_nonfinite=stop) or is logged (warn)
    label: str | None = None  # its words on a figure's axis (run and sweep figures)
    heading: str | None = None  # its heading in report.md's table of the file (None: not in the table)
    group: str | None = None  # a named subset of its file's columns (GRADIENT_NORMS, PLATEAU_GRADIENT)


FILES = {  # every CSV declared below -> what one row is
    "train.csv": "one row per logged training iteration (train.log_every); `iteration` counts across epochs",
    "snapshots.csv": "one row per snapshot",
    "probe.csv": (
        "one row per logged probe iteration and critic, from the fresh D at iteration 0; every value "
        "describes D after that iteration's step"
    ),
    "noise.csv": "experiment=noise only: one row per (snapshot, swept σ)",
    "critics.csv": (
        "when critics other than gan ran: one row per (critic, snapshot, generator cost the critic's "
        "gradient measured), from start to end of the probe and at the critic's plateau (σ = 0 in a σ "
        "sweep; the control has no G and no row)"
    ),
    "updates.csv": "experiment=updates only: one row per (snapshot, critic, D stage, cost, k)",
    "claims.csv": (
        "a sweep's (gan-repro-plot SWEEP_DIR): after the run's labels (run, seed, the swept keys), one row "
        "per (claim, snapshot) of every run's summary.json"
    ),
    "claims_summary.csv": (
        "a sweep's: after the group's label and keys, one row per group, claim and snapshot: the verdicts "
        "over the group's seeds"
    ),
}

SPREAD = r"spread $\sqrt{\sum_k \|g_k - \bar g\|^2 / (K-1)}$"

COLUMNS = (
    # ---------------------------------------------------------------------------------------------- train.csv
    Column("epoch", "train.csv", "the epoch the iteration is in"),
    Column("iteration", "train.csv", "iterations done in all epochs (one D step and one G step each)"),
    Column(
        "d_loss",
        "train.csv",
        "−½(E log D(x) + E log(1 − D(G(z)))), the cost D minimizes, on the iteration's batch",
        finite_check=True,
    ),
    Column(
        "g_loss",
        "train.csv",
        "the cost G minimizes (loss=): minimax E log(1 − D(G(z))), or nonsaturating E −log D(G(z))",
        finite_check=True,
    ),
    Column(
        "d_accuracy",
        "train.csv",
        "fraction of real (D > ½) and fake (D < ½) samples classified correctly",
    ),
    Column("noise_std", "train.csv", "the instance noise's σ at the iteration (noise=)"),
    # ------------------------------------------------------------------------------------------ snapshots.csv
    Column("iteration", "snapshots.csv", "G steps done: the snapshot's identity (its name in every file)"),
    Column("epoch", "snapshots.csv", "iteration / steps per epoch (11.1: a snapshot inside epoch 12)"),
    Column("noise_std", "snapshots.csv", "the training σ then"),
    Column("sliced_wasserstein", "snapshots.csv", "sliced W₁ between real and generated images"),
    Column("wasserstein_exact", "snapshots.csv", "exact W₁ between real and generated images"),
    Column("dimension", "snapshots.csv", "d, the numbers in one image (Theorem 3.3's bound reads it)"),
    Column("clip_sigmas", "snapshots.csv", "noise.clip_sigmas (Theorem 3.3's bound reads it)"),
    Column(
        "distance_samples",
        "snapshots.csv",
        "images of each kind the sliced W₁ used (fewer than distance.samples on small data)",
    ),
    Column("exact_samples", "snapshots.csv", "images of each kind the exact W₁ used"),
    Column(
        "wasserstein_exact_real_real",
        "snapshots.csv",
        "two disjoint real samples: the exact W₁'s finite-sample floor",
    ),
    Column(
        "exact_samples_real_real",
        "snapshots.csv",
        "images in each (exact_samples, or half a small dataset)",
    ),
    # ---------------------------------------------------------------------------------------------- probe.csv
    Column(
        "snapshot_iteration",
        "probe.csv",
        "G steps of the frozen G: the identity (CONTROL_SNAPSHOT = 0: the negative control)",
    ),
    Column(
        "snapshot_epoch",
        "probe.csv",
        "snapshot_iteration over steps per epoch (11.1: a snapshot inside epoch 12), for labels",
    ),
    Column("iteration", "probe.csv", "D iterations done (0: the fresh D, before its first step)"),
    Column(
        "d_loss",
        "probe.csv",
        "the critic's own cost (no penalty) on a fresh training-split real batch and the fresh fakes",
        log_scale=True,
        finite_check=True,
        label=r"D's cost $-\frac{1}{2}(E\,\log D(x) + E\,\log(1-D(G(z))))$",
    ),
    Column(
        "d_accuracy",
        "probe.csv",
        "D's accuracy on the same batches; blank for a Wasserstein critic (its output's sign means nothing)",
        label="D's accuracy",
    ),
    Column(
        "d_loss_heldout",
        "probe.csv",
        'D\'s cost on a held-out real batch and the same fakes (the control: held-out "fakes")',
        log_scale=True,
        finite_check=True,
        label="D's cost on held-out real images",
    ),
    Column(
        "d_accuracy_heldout",
        "probe.csv",
        "D's accuracy on the held-out batch and the same fakes",
        label="D's accuracy on held-out real images",
    ),
    Column(
        "grad_norm_minimax",
        "probe.csv",
        "‖∇θ E_z log(1 − D(G_θ(z)))‖ (Figure 2), at a fresh z batch (blank for the control: no G; and for "
        "other costs)",
        log_scale=True,
        finite_check=True,
        label=r"G's gradient norm, minimax $\log(1-D)$ cost",
        group=GRADIENT_NORMS,
    ),
    Column(
        "grad_norm_nonsaturating",
        "probe.csv",
        "‖∇θ E_z[−log D(G_θ(z))]‖ (Figure 3)",
        log_scale=True,
        finite_check=True,
        label=r"G's gradient norm, $-\log D$ cost",
        group=GRADIENT_NORMS,
    ),
    Column(
        "grad_relvar_minimax",
        "probe.csv",
        "at variance points (iteration 0, then every probe.variance_every): relative variance over K z "
        "batches, Σ_k ‖g_k − g‖² / ((K−1) ‖g‖²)",
        log_scale=True,
    ),
    Column("grad_relvar_nonsaturating", "probe.csv", "the same for the −log D cost", log_scale=True),
    Column("noise_std", "probe.csv", "the instance noise's σ on D's inputs"),
    Column("sweep_noise_std", "probe.csv", "blank unless sweeping σ (experiment=noise)"),
    Column("critic", "probe.csv", "which critic this D is (critic=...; gan: the paper's probe)"),
    Column(
        "grad_norm_generator",
        "probe.csv",
        "the gradient norm of G's cost for a critic other than gan/gan_r1's two (a user's objective's too)",
        log_scale=True,
        finite_check=True,
        label="G's gradient norm, the critic's generator cost",
        group=GRADIENT_NORMS,
    ),
    Column("grad_relvar_generator", "probe.csv", "its relative variance over K z batches", log_scale=True),
    Column(
        "input_grad_norm_real",
        "probe.csv",
        "at variance points: mean ‖∇x D(x)‖ at the fresh real batch (R1's)",
        log_scale=True,
        finite_check=True,
        label=r"$\|\nabla_x D(x)\|$ at real images",
    ),
    Column(
        "input_grad_norm_fake",
        "probe.csv",
        "at variance points: mean ‖∇x D(x)‖ at the fresh fakes",
        log_scale=True,
        finite_check=True,
        label=r"$\|\nabla_x D(x)\|$ at generated images",
    ),
    Column(
        "grad_spread_minimax",
        "probe.csv",
        "at variance points: the absolute spread √(Σ_k ‖g_k − g‖² / (K−1))",
        log_scale=True,
        finite_check=True,
        label=f"{SPREAD}, minimax cost",
    ),
    Column(
        "grad_spread_nonsaturating",
        "probe.csv",
        "the same for the −log D cost",
        log_scale=True,
        finite_check=True,
        label=rf"{SPREAD}, $-\log D$ cost",
    ),
    Column(
        "grad_spread_generator",
        "probe.csv",
        "the same for the critic's generator cost",
        log_scale=True,
        finite_check=True,
        label=f"{SPREAD}, the critic's cost",
    ),
    Column(
        "grad_cosine_transport_minimax",
        "probe.csv",
        "at variance points: cos(∇ cost, ∇ T) at the norm's z batch, T = ½ mean ‖G(z) (+ε) − x*‖², x* the "
        "fakes' partners in the evaluation's real batch (transport.py); > 0: the step transports",
        finite_check=True,
    ),
    Column(
        "grad_cosine_transport_nonsaturating", "probe.csv", "the same for the −log D cost", finite_check=True
    ),
    Column(
        "grad_cosine_transport_generator",
        "probe.csv",
        "the same for the critic's generator cost",
        finite_check=True,
    ),
    # ---------------------------------------------------------------------------------------------- noise.csv
    Column(
        "snapshot_iteration",
        "noise.csv",
        "the snapshot's G steps (its identity)",
        heading="snapshot (G steps)",
    ),
    Column(
        "snapshot_epoch", "noise.csv", "snapshot_iteration over steps per epoch (labels)", heading="epoch"
    ),
    Column("noise_std", "noise.csv", "the swept σ", heading="σ"),
    Column("d_loss_end", "noise.csv", "D's cost over the end window", heading="final d_loss"),
    Column("d_accuracy_end", "noise.csv", "D's accuracy over the end window"),
    Column(
        "grad_norm_minimax_end",
        "noise.csv",
        "the minimax gradient norm over the end window (geometric mean)",
        heading="final grad_norm_minimax",
    ),
    Column(
        "jsd_estimate",
        "noise.csv",
        "log 2 − d_loss_end: a lower estimate of the JSD of the noisy distributions",
        heading="JSD estimate",
    ),
    Column(
        "bound",
        "noise.csv",
        "Theorem 3.3's 2V½ + 2C·JSD½, V = σ²d, C = 2(1 + clip_sigmas·σ)√d (the noisy supports' diameter)",
        heading="bound 2V½ + 2C·JSD½",
    ),
    Column(
        "bound_over_diameter",
        "noise.csv",
        "bound / 2√d, the data cube's diameter: ≥ 1 means the bound says nothing",
        heading="bound / 2√d",
    ),
    Column(
        "sliced_wasserstein", "noise.csv", "the snapshot's sliced W₁ (snapshots.csv)", heading="sliced W1"
    ),
    Column("wasserstein_exact", "noise.csv", "the snapshot's exact W₁ (snapshots.csv)", heading="exact W1"),
    Column(
        "exact_w1_real_real",
        "noise.csv",
        "the exact W₁ between two disjoint real samples of the same n, what it reads when P_g = P_r: the "
        "estimator's floor (blank in runs that predate it)",
        heading="exact W1 real vs real (floor)",
    ),
    Column("bound_holds", "noise.csv", "bound ≥ the larger measured W₁", heading="bound ≥ W1"),
    # -------------------------------------------------------------------------------------------- critics.csv
    Column("critic", "critics.csv", "the critic (critic=; gan: the paper's probe)", heading="critic"),
    Column("snapshot_iteration", "critics.csv", "the snapshot's G steps", heading="snapshot (G steps)"),
    Column("snapshot_epoch", "critics.csv", "snapshot_iteration over steps per epoch", heading="epoch"),
    Column(
        "cost",
        "critics.csv",
        "G's cost: minimax, nonsaturating, wasserstein (−E D) or least_squares (from config.yaml)",
        heading="G's cost",
    ),
    Column("column", "critics.csv", "the probe.csv column holding its gradient norm"),
    Column(
        "grad_norm_first",
        "critics.csv",
        "geometric mean over the first window_span logged points",
        heading="‖∇θ‖ first",
    ),
    Column(
        "grad_norm_end",
        "critics.csv",
        "geometric mean over the last window_span logged points",
        heading="‖∇θ‖ end",
    ),
    Column(
        "change_orders", "critics.csv", "log10(end / first): > 0 grew, < 0 fell", heading="change (orders)"
    ),
    Column(
        "largest_excursion_orders",
        "critics.csv",
        "max over sliding windows of |log10(window mean / first)|",
        heading="largest excursion (orders)",
    ),
    Column(
        "relvar_end",
        "critics.csv",
        "the gradient's relative variance over K z batches, end window",
        heading="relative variance, end",
    ),
    Column(
        "transport_cosine_start",
        "critics.csv",
        "cos(∇ cost, ∇ T) at iteration 0 (probe.csv's grad_cosine_transport_*)",
        heading="cos(∇, transport) start",
    ),
    Column(
        "transport_cosine_end",
        "critics.csv",
        "the transport cosine's mean over the end window of the variance points (> 0: transports)",
        heading="cos(∇, transport) end",
    ),
    Column(
        "d_loss_end",
        "critics.csv",
        "the critic's own cost, end window (arithmetic: not every critic's cost is positive)",
        heading="critic's cost, end",
    ),
    Column(
        "d_accuracy_heldout_end",
        "critics.csv",
        "the critic's held-out accuracy, end window; blank for a Wasserstein critic",
        heading="held-out accuracy, end",
    ),
    Column(
        "input_grad_norm_real_end",
        "critics.csv",
        "‖∇x D‖ at real images, end window",
        heading="‖∇x D‖ real, end",
    ),
    Column(
        "input_grad_norm_fake_end",
        "critics.csv",
        "‖∇x D‖ at generated images, end window",
        heading="‖∇x D‖ fake, end",
    ),
    Column(
        "plateau_reached",
        "critics.csv",
        "at matched optimality, where the critic's own cost plateaus (cost_plateau), one rule for every "
        "critic; false: its cost still moved when its budget ended (the plateau columns: blank)",
        heading="cost plateaued",
    ),
    Column(
        "plateau_iteration",
        "critics.csv",
        "the logged D iteration at which its cost settled (probe.plateau_window, _fraction)",
        heading="plateau (D iteration)",
    ),
    Column(
        "grad_norm_plateau_over_start",
        "critics.csv",
        "geometric mean over the W logged points ending there, over the start",
        heading="‖∇θ‖ at plateau / start",
        group=PLATEAU_GRADIENT,
    ),
    Column(
        "largest_excursion_to_plateau_orders",
        "critics.csv",
        "largest_excursion_orders over the points up to the plateau",
        heading="largest excursion to plateau (orders)",
        group=PLATEAU_GRADIENT,
    ),
    Column(
        "transport_cosine_plateau",
        "critics.csv",
        "the transport cosine at the first variance point at or after the plateau",
        heading="cos(∇, transport) at plateau",
        group=PLATEAU_GRADIENT,
    ),
    # -------------------------------------------------------------------------------------------- updates.csv
    Column("snapshot_iteration", "updates.csv", "the snapshot's G steps (its identity, as in probe.csv)"),
    Column("snapshot_epoch", "updates.csv", "snapshot_iteration over steps per epoch"),
    Column(
        "critic",
        "updates.csv",
        "the critic whose D G steps against (critic.<name>; gan: the paper's D; none: the momentum control)",
    ),
    Column(
        "d_stage", "updates.csv", "D iterations that critic trained before it was frozen (0: the fresh D)"
    ),
    Column(
        "d_accuracy_heldout",
        "updates.csv",
        "that D on the n held-out images against G_0(z): how strong it is (blank: WGAN)",
    ),
    Column(
        "cost",
        "updates.csv",
        "the generator cost of the steps (losses.py): minimax, nonsaturating, wasserstein, ...; momentum: "
        "Adam steps on a zero gradient, no D (the momentum control)",
    ),
    Column("k", "updates.csv", "G steps taken with that cost against the frozen D (0: G unchanged)"),
    Column("wasserstein_exact", "updates.csv", "exact W₁(G_k(z), held-out images), n of each"),
    Column(
        "wasserstein_exact_real_real",
        "updates.csv",
        "exact W₁(training images, the same held-out images): the floor",
    ),
    Column(
        "wasserstein_exact_over_floor",
        "updates.csv",
        "the ratio of the two (1: as close as another real sample)",
    ),
    Column("sliced_wasserstein", "updates.csv", "sliced W₁(G_k(z), held-out images)"),
    Column(
        "linear_accuracy_heldout",
        "updates.csv",
        "the linear control's held-out accuracy against G_k's fresh fakes",
    ),
    Column(
        "d_accuracy_fakes",
        "updates.csv",
        "the share of G_k(z) the frozen D calls fake (1 − how far the steps fooled it)",
    ),
    Column("grad_norm", "updates.csv", "k = 0 only: ‖∇θ cost‖ of the unchanged G (blank for k > 0)"),
    Column(
        "transport_cosine",
        "updates.csv",
        "k = 0 only: cosine of the cost's and the transport loss's gradients",
    ),
    # --------------------------------------------------------------------------------------------- claims.csv
    Column("claim_id", "claims.csv", "the claim's id (summary.json's claims)"),
    Column("claim", "claims.csv", "the claim, in words"),
    Column("paper", "claims.csv", "the paper's words it tests"),
    Column("snapshot", "claims.csv", "empty for a claim measured on the run as a whole"),
    Column(
        "value", "claims.csv", "the run's value (the snapshot's, where the claim measures one per snapshot)"
    ),
    Column("unit", "claims.csv", "the value's unit"),
    Column("threshold", "claims.csv", "the threshold it is held to"),
    Column(
        "holds",
        "claims.csv",
        "the snapshot's verdict where the claim gives one, else the claim's (empty: not measured)",
    ),
    Column("claim_holds", "claims.csv", "the whole claim's verdict (empty: not measured)"),
    # ------------------------------------------------------------------------------------- claims_summary.csv
    Column("claim_id", "claims_summary.csv", "the claim's id"),
    Column("claim", "claims_summary.csv", "the claim, in words"),
    Column("paper", "claims_summary.csv", "the paper's words it tests"),
    Column("snapshot", "claims_summary.csv", "the snapshot (empty: the run as a whole)"),
    Column("unit", "claims_summary.csv", "the value's unit"),
    Column("threshold", "claims_summary.csv", "the threshold it is held to"),
    Column("median", "claims_summary.csv", "the value's median over the group's seeds"),
    Column("min", "claims_summary.csv", "the value's min over the group's seeds"),
    Column("max", "claims_summary.csv", "the value's max over the group's seeds"),
    Column("holds_in", "claims_summary.csv", "the seeds whose verdict on that snapshot holds"),
    Column(
        "measured_in",
        "claims_summary.csv",
        "the seeds whose verdict on that snapshot is known ('not measured', None, counts in neither)",
    ),
    Column("claim_holds_in", "claims_summary.csv", "the same for the whole claim: the seeds where it holds"),
    Column(
        "claim_measured_in",
        "claims_summary.csv",
        "the same for the whole claim: the seeds where its verdict is known",
    ),
    Column("seeds", "claims_summary.csv", "the group's seeds"),
)


def columns_in(file: str) -> list[Column]:
    """The columns of a CSV file (its name: 'probe.csv'), in file order; KeyError for a file not declared."""
    if file not in FILES:
        raise KeyError(f"{file}: no such CSV is declared in gan_repro/columns.py")
    return [column for column in COLUMNS if column.file == file]


def columns_of(file: str, *, group: str | None = None) -> list[str]:
    """The file's header, in order (group: only that named subset's columns)."""
    return [column.name for column in columns_in(file) if group is None or column.group == group]


def find_column(name: str, file: str = "probe.csv") -> Column:
    """One column of a file, by name; KeyError when the file has no such column."""
    found = [column for column in columns_in(file) if column.name == name]
    if not found:
        raise KeyError(f"{file} has no column {name!r} (gan_repro/columns.py)")
    return found[0]


def log_measures(file: str = "probe.csv") -> list[str]:
    """The file's columns that span orders of magnitude, in file order."""
    return [column.name for column in columns_in(file) if column.log_scale]


def finite_checked(file: str) -> tuple[str, ...]:
    """The file's columns checked for NaN and inf as their rows are written, in file order."""
    return tuple(column.name for column in columns_in(file) if column.finite_check)


def axis_label(name: str, file: str = "probe.csv") -> str:
    """A column's words on a figure's axis; KeyError for a column declared without them."""
    words = find_column(name, file).label
    if words is None:
        raise KeyError(f"{file}'s {name} has no axis label (gan_repro/columns.py)")
    return words


def headings(file: str) -> dict[str, str]:
    """{column: heading} for the columns of report.md's table of the file, in file order."""
    return {column.name: column.heading for column in columns_in(file) if column.heading is not None}
