"""Benchmark: our training stage against the plain PyTorch DCGAN example loop (same as `gan-repro-bench`).

python scripts/benchmark.py                       # CPU, small scale (32x32, ngf = ndf = 32)
python scripts/benchmark.py scale=paper device=cuda --iterations 300 --json bench.json
"""

import sys

from gan_repro.cli import bench_main

if __name__ == "__main__":
    sys.exit(bench_main())
