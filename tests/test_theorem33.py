"""Theorem 3.3, honestly: the bound over the data cube's diameter, the exact W1's real-vs-real floor, the
snapshot distances that were there before the floor, unchanged by it, and how many images the distances use
on a small dataset."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gan_repro.data import TensorImages, sample_images
from gan_repro.distances import exact_wasserstein, sliced_wasserstein
from gan_repro.models import build_generator
from gan_repro.pipeline import run
from gan_repro.plot import draw_noise_bound_figure
from gan_repro.report import data_diameter, noise_table, theorem_33_bound
from gan_repro.steps import sample_z
from gan_repro.train import measure_distances, real_real_wasserstein
from tests.helpers import REPO, TINY, compose_config, load_dataset, run_script, write_images

pytestmark = pytest.mark.integration


def sweep_frames(*, d_loss: float, dimension: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A one-snapshot, two-sigma probe.csv at a constant d_loss, and its snapshots.csv row."""
    probe = pd.DataFrame(
        [
            {
                "snapshot_iteration": 1,
                "snapshot_epoch": 1.0,
                "iteration": i,
                "d_loss": d_loss,
                "d_accuracy": 1.0,
                "grad_norm_minimax": 1e-3,
            }
            | {"sweep_noise_std": sigma, "critic": "gan"}
            for sigma in (0.0, 0.1)
            for i in range(1, 9)
        ]
    )
    snapshot = {
        "iteration": 1,
        "epoch": 1.0,
        "dimension": dimension,
        "clip_sigmas": 4.0,
        "sliced_wasserstein": 0.5,
    }
    snapshot |= {"wasserstein_exact": 20.0, "wasserstein_exact_real_real": 9.0}
    return probe, pd.DataFrame([snapshot])


def test_bound_over_diameter_is_the_bound_over_2_sqrt_d() -> None:
    """D saturated (d_loss ~ 0, JSD ~ log 2), sigma = 0, d = 1024: bound = 2 * 64 * sqrt(log 2) ~ 107, the
    data cube's diameter is 64, so bound / diameter = 2 sqrt(log 2) ~ 1.67: the bound says nothing."""
    probe, snapshots = sweep_frames(d_loss=0.0, dimension=1024)
    table = noise_table(probe, snapshots, window=4).set_index("noise_std")
    assert data_diameter(1024) == 64.0
    assert table.loc[0.0, "bound"] == pytest.approx(128 * math.sqrt(math.log(2)))
    assert table.loc[0.0, "bound_over_diameter"] == pytest.approx(2 * math.sqrt(math.log(2)))
    with_noise = theorem_33_bound(jsd=math.log(2), sigma=0.1, dimension=1024, clip_sigmas=4.0)
    assert table.loc[0.1, "bound_over_diameter"] == pytest.approx(with_noise / 64)
    assert (table["exact_w1_real_real"] == 9.0).all() and (table["wasserstein_exact"] == 20.0).all()


def gaussian_images(count: int, seed: int) -> torch.Tensor:
    """count 1x4x4 images, pixels N(0, 0.2^2) stored as uint8 around mid-grey (TensorImages' format)."""
    noise = torch.randn(count, 1, 4, 4, generator=torch.Generator().manual_seed(seed))
    return (127.5 + 25.5 * noise).round().clamp(0, 255).to(torch.uint8)


def test_real_real_floor_is_below_real_against_shifted() -> None:
    """Two disjoint samples of one distribution are closer than a sample and a shifted copy of the other."""
    dataset = TensorImages(gaussian_images(600, seed=0))
    floor, count = real_real_wasserstein(dataset, 128, rng=torch.Generator().manual_seed(1))
    assert count == 128
    pool = sample_images(dataset, 256, rng=torch.Generator().manual_seed(2))
    shifted = exact_wasserstein(
        pool[:128], pool[128:] + 0.6
    )  # 0.6 per pixel: means 0.6 * sqrt(16) = 2.4 apart
    assert 0 < floor < 0.5 * shifted and shifted > 2.4  # the floor is far from 0 even in 16 dimensions


def test_real_real_floor_halves_a_small_dataset() -> None:
    """70 images and 64 asked: two disjoint halves of 35; identical halves would give 0."""
    dataset = TensorImages(gaussian_images(70, seed=3))
    floor, count = real_real_wasserstein(dataset, 64, rng=torch.Generator().manual_seed(4))
    assert count == 35 and floor > 0


def old_measure_distances(generator, dataset, distance_cfg, *, nz: int, seed: int) -> dict[str, float]:
    """measure_distances as it was before the real-real floor (a copy of that code): the same draws from
    the same RNG, in the same order."""
    rng = torch.Generator().manual_seed(seed)
    real = sample_images(dataset, min(int(distance_cfg.samples), len(dataset)), rng=rng)
    with torch.no_grad():
        fake = torch.cat(
            [
                generator(sample_z(len(c), nz, device=torch.device("cpu"), rng=rng))
                for c in torch.arange(len(real)).split(250)
            ]
        )
    exact_count = min(int(distance_cfg.exact_samples), len(real))
    return {
        "sliced_wasserstein": sliced_wasserstein(
            real, fake, projections=int(distance_cfg.projections), rng=rng
        ),
        "wasserstein_exact": exact_wasserstein(real[:exact_count], fake[:exact_count]),
        "distance_samples": len(real),
        "exact_samples": exact_count,
    }


def test_existing_snapshot_distances_are_unchanged_by_the_floor() -> None:
    """The real-real sample is drawn after everything else: the earlier columns keep their exact values."""
    cfg = compose_config(TINY)
    dataset = load_dataset(cfg.dataset)
    torch.manual_seed(0)
    generator = build_generator(cfg.model, image_size=cfg.dataset.image_size, channels=cfg.dataset.channels)
    new = measure_distances(
        generator, dataset, cfg.distance, nz=cfg.model.nz, device=torch.device("cpu"), seed=7
    )
    old = old_measure_distances(generator, dataset, cfg.distance, nz=cfg.model.nz, seed=7)
    assert {key: new[key] for key in old} == old  # bit for bit, not approximately
    assert new["exact_samples_real_real"] == new["exact_samples"] == 64
    assert 0 < new["wasserstein_exact_real_real"] < new["wasserstein_exact"]  # an untrained G is far off


def test_tiny_run_records_the_floor(tiny_run) -> None:
    snapshots = pd.read_csv(tiny_run[1] / "snapshots.csv")
    first = list(snapshots.columns[:9])
    assert first[-2:] == ["distance_samples", "exact_samples"]  # the earlier columns keep their places
    assert (snapshots["exact_samples_real_real"] == snapshots["exact_samples"]).all()
    assert (snapshots["wasserstein_exact_real_real"] > 0).all()


def test_noise_bound_figure_shows_the_diameter_and_the_floor() -> None:
    probe, snapshots = sweep_frames(d_loss=0.0, dimension=1024)
    figure = draw_noise_bound_figure(noise_table(probe, snapshots, window=4), dimension=1024)
    lines = {line.get_label(): np.asarray(line.get_ydata(), dtype=float) for line in figure.axes[0].lines}
    diameter = [y for label, y in lines.items() if label.startswith("diameter")]
    assert len(diameter) == 1 and (diameter[0] == 64.0).all()
    assert any("real vs real" in label and (y == 9.0).all() for label, y in lines.items())


def test_noise_table_script_prints_the_new_columns(tmp_path: Path) -> None:
    probe, snapshots = sweep_frames(d_loss=0.0, dimension=1024)
    snapshots["exact_samples"], snapshots["exact_samples_real_real"] = 256, 256
    noise_table(probe, snapshots, window=4).to_csv(tmp_path / "noise.csv", index=False)
    snapshots.to_csv(tmp_path / "snapshots.csv", index=False)
    result = run_script(REPO / "scripts" / "tables.py", "noise", str(tmp_path))
    assert result.returncode == 0, result.stderr
    header, _, first = result.stdout.splitlines()[:3]
    assert "bound / 2√d" in header and "exact W1 real vs real (n=256)" in header
    assert "| 1.67 |" in first and "| 9 |" in first


def test_small_image_folder_records_how_many_images_the_distances_used(tmp_path: Path, caplog) -> None:
    write_images(tmp_path / "images", [(20, 20)] * 90)  # 22 held out, 68 to train on
    summary_dir = tmp_path / "run"
    run(
        compose_config(
            [
                *TINY,
                "dataset=image_folder",
                f"dataset.root={tmp_path / 'images'}",
                "train.epochs=1",
                "train.snapshot_epochs=[1]",
                "probe.iterations=3",
            ]
        ),
        summary_dir,
    )
    snapshots = pd.read_csv(summary_dir / "snapshots.csv")
    assert snapshots["distance_samples"].tolist() == [68] and snapshots["exact_samples"].tolist() == [64]
    assert snapshots["exact_samples_real_real"].tolist() == [34]  # two disjoint halves of the 68 images
    assert "distances from 68 images of each kind" in caplog.text
