"""Build time and peak memory of ``build-map`` versus dataset size, for both engines.

    python bench/bench_build_map.py [--cases local-10k,local-100k,local-mp,dask-10k,dask-100k,dask-mp,dask-1m]
                                    [--workers 2] [--partition-rows 250000] [--fit-sample 100000]
                                    [--duplicates first|keep] [--data-dir /tmp/chemmap-bench]
                                    [--out bench/results/build_map.json] [--keep-maps]

A case is ``ENGINE-SIZE``: ENGINE ``local`` (``data.map_build.build_map``, one process) or
``dask`` (``data.map_build_dask.build_map_dask`` on a LocalCluster of ``--workers``
single-threaded worker processes); SIZE ``mp`` (the built-in dataset, 95,651 compositions) or
a row count with an optional k/m suffix (``10k``, ``1m``, ``2m``): a synthetic dataset from
``bench/synthetic_compositions.py`` (seed 0), written once into ``--data-dir`` and reused.

Every case runs in a fresh child process (so imports, cluster start-up and numba compilation
count, as for a user) while this process samples the memory of the child's whole process tree
with psutil every 0.2 s: the driver (the child itself), each worker process and the sum.
Projection: the paper's UMAP (seed 124); the dask engine fits it on ``--fit-sample`` rows and
places the others with ``transform``; the local engine fits every row (its default).

Wall time depends on whatever else runs on the machine: each record also has the CPU time of
the whole process tree (driver and workers, from ``getrusage(RUSAGE_CHILDREN)``) and the 1-minute
load average before and after the case; quote wall times only from a quiet machine.

Prints a table and writes ``--out`` (JSON: the machine, library versions and one record per
case; a case already in the file is replaced, the others are kept). The issue's goal: the
default mp map builds in under 3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_CASES = "local-10k,local-100k,local-mp,dask-10k,dask-100k,dask-mp,dask-1m"
GOAL_SECONDS = 180.0
SAMPLE_SECONDS = 0.2
MB = 1024 * 1024


def parse_size(text: str) -> int | str:
    text = text.lower()
    if text == "mp":
        return "mp"
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


class TreeMemory:
    """Peak resident memory of a process and its descendants, sampled in a thread."""

    def __init__(self, pid: int, interval: float = SAMPLE_SECONDS):
        import psutil

        self.root = psutil.Process(pid)
        self.interval = interval
        self.driver_peak = 0
        self.tree_peak = 0
        self.process_peaks: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "TreeMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                processes = [self.root] + self.root.children(recursive=True)
            except psutil.NoSuchProcess:
                return
            total = 0
            for process in processes:
                try:
                    rss = process.memory_info().rss
                    name = " ".join(process.cmdline()[1:4])[:80]
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += rss
                if process.pid == self.root.pid:
                    self.driver_peak = max(self.driver_peak, rss)
                else:
                    old = self.process_peaks.get(process.pid, ("", 0))[1]
                    self.process_peaks[process.pid] = (name, max(old, rss))
            self.tree_peak = max(self.tree_peak, total)
            self._stop.wait(self.interval)

    def summary(self) -> dict:
        # worker processes run distributed's spawn entry point; nannies and the resource
        # tracker are the other (small) children
        workers = sorted((rss for name, rss in self.process_peaks.values() if "spawn_main" in name), reverse=True)
        return {
            "driver_peak_mb": round(self.driver_peak / MB),
            "worker_peaks_mb": [round(r / MB) for r in workers],
            "children_peaks_mb": {str(pid): [name, round(rss / MB)] for pid, (name, rss) in self.process_peaks.items()},
            "tree_peak_mb": round(self.tree_peak / MB),
        }


def dataset_for(size: int | str, data_dir: Path) -> str:
    if size == "mp":
        return "mp"
    path = data_dir / f"synthetic_{size}.parquet"
    if not path.exists():
        from bench.synthetic_compositions import write_synthetic

        started = time.perf_counter()
        write_synthetic(path, size, seed=0, row_group=100_000, invalid=0.0001)
        print(f"wrote {path} ({size:,} rows) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return str(path)


def run_child(args: argparse.Namespace) -> int:
    """The measured build (runs in the child process)."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    from data.map_artifact import read_metadata
    from data.map_build import MapSpec, build_map

    spec = MapSpec(dataset=args.dataset, method=args.method)
    if args.engine == "local":
        build_map(spec, args.map_out, progress=False)
    else:
        from data.map_build_dask import build_map_dask

        build_map_dask(
            spec, args.map_out, n_workers=args.workers, partition_rows=args.partition_rows,
            fit_sample=args.fit_sample, duplicates=args.duplicates, progress=False,
        )  # fmt: skip
    meta = read_metadata(args.map_out)
    print("RESULT " + json.dumps({k: meta.get(k) for k in ("rows", "skipped_rows", "build_seconds", "step_seconds", "quality", "engine", "dataset")}))
    return 0


def run_case(case: str, args: argparse.Namespace) -> dict:
    engine, size_text = case.split("-", 1)
    if engine not in ("local", "dask"):
        raise SystemExit(f"unknown engine in case {case!r}: use local-SIZE or dask-SIZE")
    size = parse_size(size_text)
    dataset = dataset_for(size, args.data_dir)
    map_out = args.data_dir / "maps" / case
    command = [
        sys.executable, __file__, "--child", "--engine", engine, "--dataset", dataset, "--map-out", str(map_out),
        "--workers", str(args.workers), "--partition-rows", str(args.partition_rows), "--fit-sample", str(args.fit_sample),
        "--duplicates", args.duplicates, "--method", args.method,
    ]  # fmt: skip
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with TreeMemory(child.pid) as memory:
        stdout, stderr = child.communicate()
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the workers are reaped by the driver, so their CPU time is in the driver's children total
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    if child.returncode != 0:
        raise SystemExit(f"case {case} failed (exit {child.returncode}):\n{stderr[-4000:]}")
    result = json.loads(next(line for line in stdout.splitlines() if line.startswith("RESULT "))[len("RESULT ") :])
    if not args.keep_maps:
        shutil.rmtree(map_out, ignore_errors=True)
    record = {
        "case": case,
        "engine": engine,
        "dataset": "built-in mp" if size == "mp" else f"synthetic {size:,}",
        "input_rows": result["dataset"]["rows"],
        "points": result["rows"],
        "skipped": result["skipped_rows"],
        "wall_seconds": round(wall, 1),
        "build_seconds": result["build_seconds"],
        "cpu_seconds": round(cpu, 1),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "step_seconds": result["step_seconds"],
        **memory.summary(),
        "trustworthiness": round(result["quality"]["compounds"]["trustworthiness"], 4),
        "engine_details": result.get("engine"),
    }
    if engine == "local":
        record["worker_peaks_mb"] = []
    return record


def machine() -> dict:
    import psutil

    from fingerprints.projection import library_versions

    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "platform": platform.platform(),
        "versions": library_versions(("numpy", "pandas", "pyarrow", "scikit-learn", "umap-learn", "pynndescent", "numba", "dask", "distributed")),
    }


def print_table(records: list[dict]) -> None:
    header = (
        f"{'case':<12} {'input':>10} {'points':>10} {'wall s':>8} {'build s':>8} {'cpu s':>8} {'load':>5} "
        f"{'driver MB':>10} {'worker MB':>10} {'tree MB':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in records:
        worker = max(r["worker_peaks_mb"], default=0)
        print(
            f"{r['case']:<12} {r['input_rows']:>10,} {r['points']:>10,} {r['wall_seconds']:>8.1f} {r['build_seconds']:>8.1f} "
            f"{r.get('cpu_seconds', float('nan')):>8.1f} {max(r.get('load_average_1min', [0])):>5.1f} "
            f"{r['driver_peak_mb']:>10,} {worker:>10,} {r['tree_peak_mb']:>8,}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", default=DEFAULT_CASES, help=f"comma-separated ENGINE-SIZE (default {DEFAULT_CASES})")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--partition-rows", type=int, default=250_000)
    parser.add_argument("--fit-sample", type=int, default=100_000)
    parser.add_argument("--duplicates", choices=("first", "keep"), default="first")
    parser.add_argument("--method", default="umap")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/chemmap-bench"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "build_map.json")
    parser.add_argument("--keep-maps", action="store_true", help="keep the built maps in DATA_DIR/maps")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engine", help=argparse.SUPPRESS)
    parser.add_argument("--dataset", help=argparse.SUPPRESS)
    parser.add_argument("--map-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args)

    args.data_dir.mkdir(parents=True, exist_ok=True)
    records = []
    for case in [c.strip() for c in args.cases.split(",") if c.strip()]:
        print(f"running {case} ...", file=sys.stderr, flush=True)
        records.append(run_case(case, args))
        print(json.dumps({k: records[-1][k] for k in ("case", "points", "wall_seconds", "driver_peak_mb", "worker_peaks_mb", "tree_peak_mb")}), file=sys.stderr, flush=True)
    print_table(records)
    for r in records:
        if r["case"] in ("local-mp", "dask-mp"):
            verdict = "meets" if r["wall_seconds"] < GOAL_SECONDS else "misses"
            print(f"{r['case']}: {r['wall_seconds']:.0f} s wall {verdict} the goal of {GOAL_SECONDS:.0f} s on {os.cpu_count()} cores")

    from fingerprints.io import atomic_write

    existing = json.loads(args.out.read_text()) if args.out.exists() else {}
    kept = [r for r in existing.get("cases", []) if r["case"] not in {n["case"] for n in records}]
    document = {
        "benchmark": "bench/bench_build_map.py",
        "machine": machine(),
        "settings": {"workers": args.workers, "partition_rows": args.partition_rows, "fit_sample": args.fit_sample, "duplicates": args.duplicates, "method": args.method},
        "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cases": kept + records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, json.dumps(document, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
