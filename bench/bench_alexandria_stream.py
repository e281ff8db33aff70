"""Peak memory and speed of the streaming Alexandria parser on a large synthetic file.

    python bench/bench_alexandria_stream.py [--entries 200000] [--workdir DIR] [--tracemalloc N]

Writes (once; reused while it exists) a bz2-compressed JSON file in the Alexandria format:
``--entries`` ComputedStructureEntry dicts, each with a ~2 kB structure blob, then parses it
with :func:`data.alexandria.parse_alexandria_file` in this process and reports:

* the peak RSS growth during the parse (Linux: VmHWM reset through /proc/self/clear_refs),
* the process' ru_maxrss,
* optionally (``--tracemalloc N``) the peak traced Python memory on the first N entries
  (tracemalloc slows the parse about tenfold, so it runs on a prefix written separately),
* time, entries/s and MB/s (compressed and decompressed).

A non-streaming ``json.load`` of the decompressed text would hold every entry as Python
objects at once: several times the decompressed size.
"""

from __future__ import annotations

import argparse
import bz2
import json
import os
import random
import resource
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from data.alexandria import DEFAULT_CHUNK_ROWS, parse_alexandria_file  # noqa: E402 (after the sys.path line)

FORMULAS = ["BaTiO3", "SrTiO3", "Fe2O3", "NaCl", "LiFePO4", "GaAs", "MgAl2O4", "CsPbI3", "Si", "K2NiF4"]


def entry_template(rng: random.Random) -> str:
    """One entry as JSON text with random numbers, placeholders for the id and the formula."""

    def r(scale: float = 1.0) -> float:
        return round(rng.uniform(-scale, scale), 10)

    sites = []
    for k, element in enumerate(["Ba", "Ti", "O", "O", "O"]):
        abc = [abs(r()) for _ in range(3)]
        sites.append({
            "species": [{"element": element, "occu": 1}],
            "abc": abc,
            "xyz": [round(4.0123456789 * x, 10) for x in abc],
            "label": element,
            "properties": {"magmom": r(0.1), "forces": [r(0.01), r(0.01), r(0.01)]},
        })  # fmt: skip
    a = 4 + abs(r())
    entry = {
        "@module": "pymatgen.entries.computed_entries",
        "@class": "ComputedStructureEntry",
        "energy": r(50),
        "composition": {"Ba": 1.0, "Ti": 1.0, "O": 3.0},
        "entry_id": "@ID@",
        "correction": 0.0,
        "energy_adjustments": [],
        "parameters": {},
        "data": {
            "mat_id": "@ID@",
            "prototype_id": "ABC3_cP5_221_a_b_c",
            "location": "database/3d/@ID@",
            "formula": "@FORMULA@",
            "elements": ["Ba", "O", "Ti"],
            "spg": 221,
            "nsites": 5,
            "stress": [[r(2), r(0.1), r(0.1)], [r(0.1), r(2), r(0.1)], [r(0.1), r(0.1), r(2)]],
            "energy_total": r(50),
            "total_mag": abs(r(3)),
            "band_gap_ind": abs(r(4)),
            "band_gap_dir": abs(r(4)),
            "dos_ef": abs(r()),
            "energy_corrected": r(50),
            "e_above_hull": abs(r(0.5)),
            "e_form": r(3),
            "e_phase_separation": r(0.3),
            "decomposition": "@FORMULA@",
        },
        "structure": {
            "@module": "pymatgen.core.structure",
            "@class": "Structure",
            "charge": 0,
            "lattice": {
                "matrix": [[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]],
                "pbc": [True, True, True],
                "a": a,
                "b": a,
                "c": a,
                "alpha": 90.0,
                "beta": 90.0,
                "gamma": 90.0,
                "volume": round(a**3, 10),
            },
            "properties": {},
            "sites": sites,
        },
    }
    return json.dumps(entry)


def write_file(path: Path, n: int) -> None:
    # distinct random entries, more than a bz2 block holds, so the file compresses like real data
    rng = random.Random(124)
    templates = [entry_template(rng) for _ in range(min(n, 2000))]
    template = templates[0]
    structure_bytes = len(json.dumps(json.loads(template)["structure"]))
    print(
        f"writing {path} ({n} entries, ~{len(template)} bytes each, structure blob ~{structure_bytes} bytes)",
        file=sys.stderr,
    )
    temp = path.with_name(path.name + ".tmp")
    compressor = bz2.BZ2Compressor(9)
    started = time.perf_counter()
    with open(temp, "wb") as out:
        out.write(compressor.compress(b'{"@module": "pymatgen.entries.computed_entries", "entries": ['))
        batch = []
        for i in range(n):
            text = (
                templates[i % len(templates)]
                .replace("@ID@", f"agm{i:09d}")
                .replace("@FORMULA@", FORMULAS[i % len(FORMULAS)])
            )
            batch.append(text if i == 0 else ", " + text)
            if len(batch) == 2000:
                out.write(compressor.compress("".join(batch).encode()))
                batch.clear()
        out.write(compressor.compress(("".join(batch) + "]}").encode()))
        out.write(compressor.flush())
    os.replace(temp, path)
    print(f"  written in {time.perf_counter() - started:.0f} s", file=sys.stderr)


def status_mb(key: str) -> float | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument(
        "--workdir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "chemmap-bench-alexandria"
    )
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS, help="rows per table chunk")
    parser.add_argument(
        "--tracemalloc", type=int, default=5_000, metavar="N", help="entries parsed under tracemalloc (0: skip)"
    )
    args = parser.parse_args()

    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / f"synthetic_v2_{args.entries}.json.bz2"
    if not path.exists():
        write_file(path, args.entries)
    compressed_mb = path.stat().st_size / 1e6
    with bz2.open(path, "rb") as handle:
        decompressed_mb = sum(len(block) for block in iter(lambda: handle.read(1 << 24), b"")) / 1e6

    parse_alexandria_file(_warm_up(args.workdir), progress=False)
    can_reset = reset_peak_rss()
    rss_before = status_mb("VmRSS")
    started = time.perf_counter()
    table, skipped = parse_alexandria_file(path, progress=sys.stderr.isatty(), chunk_rows=args.chunk_rows)
    seconds = time.perf_counter() - started
    peak = status_mb("VmHWM")
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"chunk_rows={args.chunk_rows}")
    print(f"file: {path.name}: {args.entries} entries, {compressed_mb:.0f} MB bz2, {decompressed_mb:.0f} MB JSON")
    print(f"parsed {len(table)} rows ({len(skipped)} skipped) in {seconds:.1f} s: "
          f"{args.entries / seconds:,.0f} entries/s, {compressed_mb / seconds:.1f} MB/s bz2, "
          f"{decompressed_mb / seconds:.1f} MB/s JSON")  # fmt: skip
    print(f"result table in memory: {table.memory_usage(deep=True).sum() / 1e6:.1f} MB")
    if can_reset and rss_before is not None and peak is not None:
        print(f"RSS before the parse {rss_before:.0f} MB; peak RSS during the parse {peak:.0f} MB "
              f"(growth {peak - rss_before:.0f} MB)")  # fmt: skip
    print(f"process ru_maxrss (includes imports): {maxrss_mb:.0f} MB")

    if args.tracemalloc:
        prefix = args.workdir / f"synthetic_v2_{args.tracemalloc}.json.bz2"
        if not prefix.exists():
            write_file(prefix, args.tracemalloc)
        tracemalloc.start()
        started = time.perf_counter()
        parse_alexandria_file(prefix, progress=False)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"tracemalloc peak on {args.tracemalloc} entries: {traced_peak / 1e6:.1f} MB "
              f"({time.perf_counter() - started:.1f} s under tracemalloc)")  # fmt: skip
    return 0


def _warm_up(workdir: Path) -> Path:
    """A tiny file parsed first, so imports and first allocations are not counted."""
    path = workdir / "warm-up_v2.json.bz2"
    if not path.exists():
        write_file(path, 10)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
