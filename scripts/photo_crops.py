#!/usr/bin/env python
"""Cut RGB crops from scikit-learn's two bundled sample photographs into an image folder (offline, real
photographic data): `python scripts/photo_crops.py OUT_DIR [--count 2400] [--size 32] [--seed 0]`.

Each crop is a random square of side 48 to 160 pixels from china.jpg or flower.jpg (427x640), alternating,
resized to --size with Pillow's bicubic filter and saved as PNG: the pixels of `dataset=photos` with
dataset.count, dataset.image_size and dataset.crop_seed set alike (gan_repro.data.cut_photo_crops). Then:
    gan-repro dataset=image_folder dataset.root=OUT_DIR dataset.channels=3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from gan_repro.data import cut_photo_crops


def cut_crops(out_dir: Path, *, count: int, size: int, seed: int) -> list[Path]:
    """count crops, alternating between the two photographs, written as out_dir/crop_NNNNN.png."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, crop in enumerate(cut_photo_crops(count, size=size, seed=seed)):  # (size, size, 3) each
        paths.append(out_dir / f"crop_{index:05d}.png")
        Image.fromarray(crop).save(paths[-1])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--count", type=int, default=2400, help="crops to cut")
    parser.add_argument("--size", type=int, default=32, help="side of each crop in pixels")
    parser.add_argument("--seed", type=int, default=0, help="where the crops are cut")
    args = parser.parse_args(argv)
    if args.count < 1 or args.size < 1:
        print("error: --count and --size must be at least 1", file=sys.stderr)
        return 2
    paths = cut_crops(args.out_dir, count=args.count, size=args.size, seed=args.seed)
    print(f"{len(paths)} crops in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
