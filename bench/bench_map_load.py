"""How fast a built map loads, and how fast the app is ready to serve it.

    python bench/bench_map_load.py [--map DIR] [--repeat 5] [--out bench/results/map_load.json]

``--map`` is a directory written by ``build-map`` (default: the built-in default map,
``~/.cache/chemmap/maps/mp-mined-corrected-umap``). Every run is a fresh Python process,
as for a user starting the app; the runs after the first read the files from the page cache.

Measured per run (seconds):

- ``import``: ``import data.map_artifact`` (pandas, pyarrow);
- ``load``: ``load_map(DIR)``: metadata, sha256 and size checks of the tables, both Parquet
  tables read into pandas (the goal is under 1 s for a 100k-row map);
- ``serve_imports``: ``import dashboard.app`` (Dash, Plotly, the project's figures);
- ``create_app``: ``dashboard.app.create_app(map_dir=DIR)`` (layout, callbacks, the map
  loaded for the validation layout);
- ``first_requests``: ``GET /`` and ``GET /_dash-layout`` through Flask's test client (no
  socket is opened);
- ``serve_ready``: from the process's first line to the end of the first requests;
- ``wall``: the whole process as seen from outside, interpreter start-up included.

Prints medians and writes ``--out`` (JSON, every run listed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_LOAD_SECONDS = 1.0


def child(map_dir: str) -> None:
    start = time.perf_counter()
    times = {}
    import data.map_artifact as artifact_module

    times["import"] = time.perf_counter() - start
    mark = time.perf_counter()
    artifact = artifact_module.load_map(map_dir)
    times["load"] = time.perf_counter() - mark
    rows = len(artifact.points)
    mark = time.perf_counter()
    import dashboard.app as dashboard_app

    times["serve_imports"] = time.perf_counter() - mark
    mark = time.perf_counter()
    app = dashboard_app.create_app(map_dir=Path(map_dir))
    times["create_app"] = time.perf_counter() - mark
    mark = time.perf_counter()
    client = app.server.test_client()
    statuses = [client.get("/").status_code, client.get("/_dash-layout").status_code]
    times["first_requests"] = time.perf_counter() - mark
    times["serve_ready"] = time.perf_counter() - start
    print("RESULT " + json.dumps({"rows": rows, "statuses": statuses, **{k: round(v, 3) for k, v in times.items()}}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--map", type=Path, default=None, help="map directory (default: the built-in default map)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "map_load.json")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        sys.path.insert(0, str(ROOT))
        child(args.child)
        return 0

    sys.path.insert(0, str(ROOT))
    if args.map is None:
        from data.map_build import default_map_dir

        args.map = default_map_dir()
    if not (args.map / "metadata.json").is_file():
        raise SystemExit(f"{args.map} is not a built map: build one with `python app.py build-map --out DIR`")
    runs = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(args.map)], cwd=ROOT, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"run failed:\n{done.stderr[-3000:]}")
        result = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))[7:])
        result["wall"] = round(wall, 3)
        runs.append(result)
    keys = ["import", "load", "serve_imports", "create_app", "first_requests", "serve_ready", "wall"]
    medians = {k: round(statistics.median(r[k] for r in runs), 3) for k in keys}
    sizes = {p.name: p.stat().st_size for p in args.map.iterdir() if p.is_file()}
    print(f"map {args.map}: {runs[0]['rows']:,} rows, points.parquet {sizes.get('points.parquet', 0) / 1e6:.1f} MB; {args.repeat} fresh processes")
    for k in keys:
        print(f"  {k:<15} median {medians[k]:6.3f} s   runs: {', '.join(f'{r[k]:.3f}' for r in runs)}")
    verdict = "meets" if medians["load"] < GOAL_LOAD_SECONDS else "misses"
    print(f"load_map {verdict} the goal of {GOAL_LOAD_SECONDS:.0f} s")

    from fingerprints.io import atomic_write

    document = {
        "benchmark": "bench/bench_map_load.py",
        "map": str(args.map),
        "rows": runs[0]["rows"],
        "file_bytes": sizes,
        "cores": os.cpu_count(),
        "measured": time.strftime("%Y-%m-%d %H:%M:%S"),
        "median_seconds": medians,
        "runs": runs,
        "goal_load_seconds": GOAL_LOAD_SECONDS,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out, json.dumps(document, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
