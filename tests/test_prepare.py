"""The prepare step: file datasets decoded once into a keyed, memory-mapped uint8 array."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from gan_repro import prepare as prepare_module
from gan_repro.cli import prepare_main
from gan_repro.data import TensorImages, decode_image, list_images
from gan_repro.errors import DatasetError
from gan_repro.prepare import prepare, prepared_folder
from tests.helpers import compose_config, load_dataset, write_images, write_lmdb

pytestmark = pytest.mark.integration


def dataset_node(root: Path, *extra: str, name: str = "image_folder", image_size: int = 16):
    """The `dataset` node of `gan-repro dataset=name dataset.root=root ...`."""
    return compose_config(
        [f"dataset={name}", f"dataset.root={root}", f"dataset.image_size={image_size}", *extra]
    ).dataset


def test_prepared_images_equal_decoding_each_file(tmp_path: Path) -> None:
    write_images(tmp_path / "images", [(40, 30), (30, 50), (64, 64), (17, 23)])
    cfg = dataset_node(tmp_path / "images")
    dataset = load_dataset(cfg)
    assert isinstance(dataset, TensorImages) and dataset.images.shape == (4, 3, 16, 16)
    for index, path in enumerate(list_images(tmp_path / "images", None)):
        expected = decode_image(lambda path=path: path, str(path), 16, 3, as_uint8=True)
        assert torch.equal(dataset.images[index], expected)
    lazy = load_dataset(dataset_node(tmp_path / "images", "dataset.prepare=false"))
    assert torch.equal(torch.stack([lazy[i] for i in range(4)]), torch.stack([dataset[i] for i in range(4)]))
    manifest = json.loads((prepared_folder(cfg) / "manifest.json").read_text())
    assert manifest["count"] == 4 and manifest["image_size"] == 16 and manifest["source"]["files"] == 4
    assert str(prepared_folder(cfg)).startswith(str(Path(str(cfg.prepared_root))))


def test_prepared_array_is_reused_and_keyed_by_its_inputs(tmp_path: Path, monkeypatch) -> None:
    write_images(tmp_path / "images", [(32, 32)] * 3)
    cfg = dataset_node(tmp_path / "images")
    first = prepare(cfg)
    calls = []
    monkeypatch.setattr(prepare_module, "decode_into", lambda *a, **k: calls.append(1) or 0)
    assert prepare(cfg) == first and not calls  # reused, not decoded again
    assert prepared_folder(dataset_node(tmp_path / "images", image_size=32)) != first  # another size
    assert prepared_folder(dataset_node(tmp_path / "images", "dataset.channels=1")) != first
    write_images(tmp_path / "images" / "more", [(20, 20)])
    assert prepared_folder(cfg) != first  # the source changed


def test_an_incomplete_prepared_folder_is_redone(tmp_path: Path) -> None:
    write_images(tmp_path / "images", [(32, 32)] * 2)
    cfg = dataset_node(tmp_path / "images")
    folder = prepare(cfg)
    (folder / "manifest.json").unlink()  # as if killed before the manifest was written
    before = (folder / "images.u8").read_bytes()
    prepare(cfg)
    assert (folder / "manifest.json").is_file() and (folder / "images.u8").read_bytes() == before


def test_bad_images_stop_or_are_skipped(tmp_path: Path) -> None:
    write_images(tmp_path / "images", [(32, 32)] * 3)
    (tmp_path / "images" / "001.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DatasetError, match="dataset.bad_images"):
        load_dataset(dataset_node(tmp_path / "images"))
    folder = prepared_folder(dataset_node(tmp_path / "images"))
    assert not (folder / "images.u8").exists() and not (folder / "images.u8.part").exists()
    dataset = load_dataset(dataset_node(tmp_path / "images", "dataset.bad_images=skip"))
    assert len(dataset) == 2
    manifest = json.loads(
        (
            prepared_folder(dataset_node(tmp_path / "images", "dataset.bad_images=skip")) / "manifest.json"
        ).read_text()
    )
    assert manifest["skipped"] == 1 and manifest["shape"][0] == 2


def test_concurrent_jobs_decode_once(tmp_path: Path, monkeypatch) -> None:
    write_images(tmp_path / "images", [(32, 32)] * 3)
    cfg = dataset_node(tmp_path / "images")
    real_decode, real_lock, calls, arrived = prepare_module.decode_into, prepare_module.file_lock, [], []
    both_at_the_lock = threading.Event()

    def counted_lock(path: Path):
        arrived.append(1)
        if len(arrived) == 2:
            both_at_the_lock.set()
        return real_lock(path)

    def decode_once_the_other_waits(*args, **kwargs):
        calls.append(1)
        assert both_at_the_lock.wait(timeout=300)  # the other job asks for the lock while this one decodes
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(prepare_module, "file_lock", counted_lock)
    monkeypatch.setattr(prepare_module, "decode_into", decode_once_the_other_waits)
    results = []
    threads = [threading.Thread(target=lambda: results.append(prepare(cfg, num_workers=0))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(set(results)) == 1


def test_lsun_lmdb_is_prepared(tmp_path: Path) -> None:
    write_lmdb(tmp_path / "bedroom_train_lmdb", ["WEBP", "JPEG", "PNG"])
    dataset = load_dataset(dataset_node(tmp_path, name="lsun"))
    lazy = load_dataset(dataset_node(tmp_path, "dataset.prepare=false", name="lsun"))
    assert isinstance(dataset, TensorImages) and len(dataset) == 3
    assert torch.equal(torch.stack([dataset[i] for i in range(3)]), torch.stack([lazy[i] for i in range(3)]))


def test_prepare_command(tmp_path: Path, capsys) -> None:
    write_images(tmp_path / "images", [(32, 32)] * 2)
    assert (
        prepare_main(
            [
                "dataset=image_folder",
                f"dataset.root={tmp_path / 'images'}",
                "dataset.image_size=16",
                "--num-workers",
                "0",
            ]
        )
        == 0
    )
    assert Path(capsys.readouterr().out.strip().splitlines()[-1], "manifest.json").is_file()
    assert prepare_main(["dataset=digits"]) == 2
    assert "already held in memory" in capsys.readouterr().err
    assert prepare_main(["dataset=image_folder", f"dataset.root={tmp_path / 'nowhere'}"]) == 2
    assert "dataset.root" in capsys.readouterr().err
