"""ChemMap: explore chemical space as a map. Entry point and command line.

    python app.py                      serve the app on the built-in default map
    python app.py serve [--host H] [--port P] [--map DIR]
    python app.py elements --counts PATH --element-counts PATH [--variant V] --out FILE.csv
    python app.py fingerprint --formulas FILE --out FILE.csv|.parquet [similarity options] [--raw]
    python app.py data build [mp|oqmd|all] | data load alexandria URL|PATH | data info
    python app.py mine --dataset NAME|PATH [--max-e-above-hull X] --out DIR
    python app.py build-map --dataset NAME|PATH --similarity mined|icsd|icsd:DIR --method umap|pca|tsne --out DIR

Run ``python app.py COMMAND --help`` for the options of each command.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("chemmap")

VARIANT_CHOICES = ("corrected", "published-2024")


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2, no traceback."""


def _port(text: str) -> int:
    """``--port``: an integer 1..65535 (argparse reports anything else and exits with status 2)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected an integer between 1 and 65535") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {port}: expected an integer between 1 and 65535")
    return port


def _non_negative_float(text: str) -> float:
    """A finite number >= 0 (``float`` alone accepts nan, inf and negatives)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


# -- similarity sources shared by several commands ----------------------------------------

def _add_counts_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("similarity (substitution counts)")
    group.add_argument(
        "--similarity",
        default="mined",
        metavar="SOURCE",
        help="mined (default: mined from the built-in mp dataset, offline), mined:NAME|PATH (mined from another "
        "dataset), icsd (public ICSD counts, downloaded once and cached) or icsd:DIR (a folder with substitution.dat "
        "and substitution.dat.element_count)",
    )
    group.add_argument("--counts", type=Path, metavar="PATH", help="substitution.dat: pair counts in the ICSD format (index = Z); overrides --similarity")
    group.add_argument("--element-counts", type=Path, metavar="PATH", help="substitution.dat.element_count: compounds per element (index = Z)")
    group.add_argument("--variant", choices=VARIANT_CHOICES, default="corrected", help="embedding recipe (default: corrected; published-2024 reproduces the authors' 2024 file)")


def _load_counts(args: argparse.Namespace):
    from data.sources import resolve_similarity
    from data.substitution_counts import read_substitution_counts

    if (args.counts is None) != (args.element_counts is None):
        raise CommandError("--counts and --element-counts must be given together")
    if args.counts is not None:
        counts = read_substitution_counts(args.counts, args.element_counts)
    else:
        counts = resolve_similarity(args.similarity)
    log.info("similarity: %s", counts.source)
    for note in counts.notes:
        log.info("%s", note)
    return counts


def _embedding_from_args(args: argparse.Namespace, *, normalize: bool):
    from fingerprints.estimator import PettiforEmbedding
    from fingerprints.io import read_element_vectors

    if getattr(args, "elements", None) is not None:
        if args.counts is not None or args.element_counts is not None:
            raise CommandError("give either --elements or --counts/--element-counts, not both")
        return PettiforEmbedding.from_vectors(read_element_vectors(args.elements), normalize=normalize, source=str(args.elements))
    return PettiforEmbedding(variant=args.variant, normalize=normalize).fit(_load_counts(args))


# -- commands ----------------------------------------------------------------------------

def command_elements(args: argparse.Namespace) -> int:
    from fingerprints.embedding import element_vectors
    from fingerprints.io import write_element_vectors

    counts = _load_counts(args)
    vectors = element_vectors(counts, variant=args.variant)
    write_element_vectors(vectors, args.out)
    empty = [s for s in vectors.index if not vectors.loc[s].any()]
    print(f"wrote {vectors.shape[0]} x {vectors.shape[1]} element vectors ({args.variant}) to {args.out}", file=sys.stderr)
    if empty:
        print(f"elements without data (zero vectors): {', '.join(empty)}", file=sys.stderr)
    return 0


def read_formula_input(path: Path) -> list:
    """Formulas from a text file (one a line) or a CSV/Parquet file with a ``formula`` column."""
    import pandas as pd

    from data.user_dataset import UserDatasetError, read_parquet_bounded

    try:
        exists = path.is_file()
    except OSError as err:  # e.g. a name longer than the file system allows
        shown = str(path) if len(str(path)) <= 200 else f"{str(path)[:200]}... ({len(str(path))} characters)"
        raise CommandError(f"formula file {shown} cannot be opened: {err.strerror}") from None
    if not exists:
        raise CommandError(f"formula file {path} does not exist")
    if path.stat().st_size == 0:
        raise CommandError(f"formula file {path} is empty")
    suffix = path.suffix.lower()
    if suffix != ".parquet":
        with path.open("rb") as handle:
            start = handle.read(65536)
        if b"\x00" in start and not start.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text has NULs too
            raise CommandError(f"formula file {path} is binary, expected text (one formula a line, or CSV)")
    if suffix in {".csv", ".parquet"}:
        try:
            if suffix == ".parquet":  # refused before a small file expands to gigabytes
                frame = read_parquet_bounded(path, description=f"formula file {path}").to_pandas()
            else:
                frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=_text_encoding(path))
        except UserDatasetError:
            raise
        except Exception as err:
            raise CommandError(f"formula file {path} could not be read as {suffix[1:].upper()}: {err}") from None
        if "formula" not in frame.columns:
            shown = ", ".join(map(str, list(frame.columns)[:10])) or "none"
            raise CommandError(f"formula file {path} has no 'formula' column (columns: {shown})")
        if frame.empty:
            raise CommandError(f"formula file {path} has a 'formula' column but no rows")
        return frame["formula"].tolist()
    raw = path.read_bytes()
    encoding = _text_encoding(path)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        raise CommandError(f"formula file {path} is not {encoding.upper().replace('-SIG', '')} text (byte {err.start})") from None
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise CommandError(f"formula file {path} holds no formula (only blank lines)")
    return lines


def _text_encoding(path: Path) -> str:
    """UTF-16 when the file starts with its byte-order mark, else UTF-8 (with or without BOM)."""
    with path.open("rb") as handle:
        return "utf-16" if handle.read(2) in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"


def command_fingerprint(args: argparse.Namespace) -> int:
    import pandas as pd

    from fingerprints.elements import SYMBOLS
    from fingerprints.io import write_table

    if args.out.suffix.lower() not in {".csv", ".parquet"}:
        raise CommandError(f"--out {args.out}: use a .csv or .parquet file name")
    formulas = read_formula_input(args.formulas)
    embedding = _embedding_from_args(args, normalize=not args.raw)
    fingerprints, batch = embedding.transform_formulas(formulas)
    table = pd.DataFrame(fingerprints, columns=list(SYMBOLS))
    table.insert(0, "error", batch.errors.astype(str))
    table.insert(0, "formula", [f if isinstance(f, str) else repr(f) for f in batch.formulas])
    write_table(table, args.out)
    n_ok = int(batch.ok.sum())
    print(f"wrote {len(table)} rows to {args.out}: {n_ok} fingerprinted, {batch.n_failed} failed", file=sys.stderr)
    for row in batch.failures().head(10).itertuples():
        print(f"  row {row.row + 1}: {row.error}", file=sys.stderr)
    if batch.n_failed > 10:
        print(f"  ... and {batch.n_failed - 10} more (see the 'error' column)", file=sys.stderr)
    zero = batch.ok & ~fingerprints.any(axis=1)
    if zero.any():
        print(
            f"note: {int(zero.sum())} rows contain only elements without substitution data "
            f"({', '.join(embedding.elements_without_data_)}): their fingerprint is the zero vector",
            file=sys.stderr,
        )
    if n_ok == 0:
        print("error: no formula could be fingerprinted", file=sys.stderr)
        return 1
    return 0


def command_data_build(args: argparse.Namespace) -> int:
    from data.builtin import BUILTIN_DATASETS, build_builtin

    names = BUILTIN_DATASETS if args.name == "all" else (args.name,)
    for name in names:
        path = build_builtin(name, wheel=args.wheel, force=args.force)
        print(f"{name}: ready at {path}", file=sys.stderr)
    return 0


def command_data_info(args: argparse.Namespace) -> int:
    import pandas as pd

    from data.builtin import builtin_info

    info = builtin_info()
    try:
        from data.alexandria import alexandria_info

        info = pd.concat([info, alexandria_info()], ignore_index=True)
    except ImportError:
        pass
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        print(info.to_string(index=False))
    return 0


def command_data_load(args: argparse.Namespace) -> int:
    if args.kind == "materials-project":
        return _load_materials_project(args)
    from data.alexandria import load_alexandria

    from data.alexandria import summarize_manifest

    if args.source is None:
        raise CommandError("data load alexandria needs the URL or path of a .json.bz2 file")

    table = load_alexandria(args.source, sha256=args.sha256, progress=True, refresh=args.refresh)
    for line in summarize_manifest(table.attrs.get("manifest", {})):
        print(line, file=sys.stderr)
    print(f"alexandria: {len(table)} entries loaded from {args.source}; use it with --dataset alexandria", file=sys.stderr)
    return 0


def _load_materials_project(args: argparse.Namespace) -> int:
    from data.materials_project import load_materials_project
    from fingerprints.io import write_table

    if args.out is None:
        raise CommandError("data load materials-project needs --out FILE.parquet (the table to use with --dataset)")
    table = load_materials_project(chemsys=args.chemsys, refresh=args.refresh)
    write_table(table, args.out)
    print(f"materials-project: {len(table)} entries written to {args.out}; use it with --dataset {args.out}", file=sys.stderr)
    return 0


def command_mine(args: argparse.Namespace) -> int:
    from data.sources import load_dataset, mine_counts
    from data.substitution_counts import write_substitution_counts

    dataset = load_dataset(args.dataset)
    counts = mine_counts(dataset, max_e_above_hull=args.max_e_above_hull)
    counts_path, element_path = write_substitution_counts(counts, args.out)
    for note in counts.notes:
        print(f"  {note}", file=sys.stderr)
    pairs = int(counts.pair_counts.sum() // 2)
    print(
        f"wrote mined counts ({pairs} substitutions, {len(counts.elements_without_data)} elements without data) to "
        f"{counts_path} and {element_path}\nuse them with: python app.py elements --counts {counts_path} "
        f"--element-counts {element_path} --out elements.csv",
        file=sys.stderr,
    )
    return 0


def _projection_params(pairs: list[str]) -> dict:
    """``--param name=value`` options, values read as JSON when they parse (numbers, true, null)."""
    import json

    params = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CommandError(f"--param {pair!r}: expected NAME=VALUE, e.g. --param n_neighbors=30")
        try:
            params[name] = json.loads(value)
        except json.JSONDecodeError:
            params[name] = value
    return params


def command_build_map(args: argparse.Namespace) -> int:
    from data.map_build import MapSpec, build_map

    spec = MapSpec(
        dataset=args.dataset,
        similarity=args.similarity,
        variant=args.variant,
        method=args.method,
        params=_projection_params(args.param),
        element_method=args.element_method,
        fit_sample=args.fit_sample,
        normalize=not args.raw,
    )
    if args.engine == "dask":
        from data.map_build_dask import DaskUnavailableError, build_map_dask

        try:
            out = build_map_dask(
                spec, args.out, scheduler=args.scheduler, n_workers=args.workers,
                partition_rows=args.partition_rows, progress=not args.quiet,
            )  # fmt: skip
        except DaskUnavailableError as err:
            raise CommandError(str(err)) from None
    else:
        if args.scheduler or args.workers:
            raise CommandError("--scheduler and --workers need --engine dask")
        out = build_map(spec, args.out, progress=not args.quiet)
    _print_map_summary(out)
    return 0


def _print_map_summary(directory: Path) -> None:
    from data.map_artifact import read_metadata

    meta = read_metadata(directory)
    quality = meta["quality"]
    print(
        f"map {directory}: {meta['rows']} compounds ({meta['skipped_rows']} skipped, see skipped.csv), "
        f"built in {meta['build_seconds']} s\n"
        f"  compounds: trustworthiness {quality['compounds']['trustworthiness']:.3f}, "
        f"{quality['compounds']['k']}-NN preservation {quality['compounds']['knn_preservation']:.3f}\n"
        f"  elements: trustworthiness {quality['elements']['trustworthiness']:.3f}, nearest 2D neighbour in the same "
        f"group {quality['elements']['group']:.2f}, same block {quality['elements']['block']:.2f}; without data: "
        f"{', '.join(meta['elements_without_data']) or 'none'}",
        file=sys.stderr,
    )


def ensure_default_map() -> Path:
    """The built-in default map, built (with progress) the first time it is needed.

    A missing, half-built or corrupted default map is rebuilt; a user's --map is never
    rebuilt behind their back (load errors are reported instead).
    """
    from data.map_artifact import MapArtifactError, load_map
    from data.map_build import MapSpec, build_map, default_map_dir

    target = default_map_dir()
    try:
        load_map(target)
        return target
    except MapArtifactError as err:
        if target.exists():
            print(f"the default map needs rebuilding: {err}", file=sys.stderr)
    print(
        "building the default map (built-in Materials Project compositions, mined similarity, UMAP): "
        "this takes about 3 minutes once; later starts reuse it",
        file=sys.stderr,
    )
    build_map(MapSpec(), target, progress=True)
    return target


def command_compare(args: argparse.Namespace) -> int:
    from data.compare import CompareSpec, format_report, parse_rows, run_compare

    chosen = {k: v for k, v in {"targets": args.targets, "embeddings": args.embeddings, "models": args.models}.items() if v}
    spec = CompareSpec(
        dataset=args.dataset, rows=parse_rows(args.rows), n_folds=args.folds, seed=args.seed,
        normalize=args.normalize, map_rows=args.map_rows, map_method=args.map_method, icsd=args.icsd,
        min_substitutions=args.min_substitutions, n_jobs=args.jobs, **chosen,
    )  # fmt: skip
    result = run_compare(spec, args.out, embeddings_wheel=args.embeddings_wheel, svg=not args.no_svg)
    print(format_report(result))
    return 0


def command_serve(args: argparse.Namespace) -> int:
    from dashboard.settings import ServerSettings

    settings = ServerSettings()
    host = args.host or settings.host
    port = args.port or settings.port
    chosen = args.map if args.map is not None else settings.map
    if chosen is not None:
        from data.map_artifact import load_map

        load_map(chosen)  # fail now, with the reason, rather than in the browser
        map_dir = chosen
    else:
        map_dir = ensure_default_map()
    workers = getattr(args, "workers", None)
    if workers is not None:
        return _serve_with_gunicorn(Path(map_dir), host=host, port=port, workers=workers)
    from dashboard.app import create_app

    app = create_app(map_dir=map_dir, maps_root=settings.maps_root, settings=settings)
    print(f"ChemMap is serving {map_dir} on http://{host}:{port}/ (Ctrl+C to stop)", file=sys.stderr)
    app.run(host=host, port=port, debug=settings.debug)
    return 0


def _serve_with_gunicorn(map_dir: Path, *, host: str, port: int, workers: int) -> int:
    """Replace this process by gunicorn (gunicorn.conf.py) serving ``map_dir`` with ``workers`` workers."""
    import importlib.util
    import os

    if not 1 <= workers <= 64:
        raise CommandError(f"--workers must be between 1 and 64, got {workers}")
    if importlib.util.find_spec("gunicorn") is None:
        raise CommandError("--workers needs gunicorn (pip install gunicorn); without --workers the development server runs")
    root = Path(__file__).resolve().parent
    env = dict(os.environ, CHEMMAP_MAP=str(Path(map_dir).resolve()))
    command = [sys.executable, "-m", "gunicorn", "-c", str(root / "gunicorn.conf.py"), "--bind", f"{host}:{port}", "--workers", str(workers)]
    print(f"ChemMap is serving {map_dir} on http://{host}:{port}/ with {workers} gunicorn workers (Ctrl+C to stop)", file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    os.execve(sys.executable, command, env)  # signals go straight to gunicorn's master from here on
    return 0  # not reached


# -- parser ------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python app.py",
        description="ChemMap: the machine-learned periodic table and maps of chemical space. "
        "Without a command, serves the app on the built-in default map.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the Dash app", description="Serve the Dash app (binds to 127.0.0.1 unless told otherwise).")
    serve.add_argument("--host", default=None, help="interface to bind (default 127.0.0.1, or CHEMMAP_HOST)")
    serve.add_argument("--port", type=_port, default=None, help="port (default 8050, or CHEMMAP_PORT)")
    serve.add_argument("--map", type=Path, default=None, metavar="DIR", help="map directory written by build-map (default: the built-in map, or CHEMMAP_MAP)")
    serve.add_argument(
        "--workers", type=int, default=None, metavar="N",
        help="serve with gunicorn and N worker processes (production; see gunicorn.conf.py); default: the single-process development server",
    )  # fmt: skip
    serve.set_defaults(handler=command_serve)

    elements = commands.add_parser(
        "elements",
        help="write the 98 x 98 element-vector table",
        description="Build the Pettifor element vectors from substitution counts and write them as CSV "
        "(rows and columns labelled H..Cf in Z order, full float precision). Without --counts, the similarity "
        "comes from --similarity (default: mined from the built-in mp dataset).",
    )
    _add_counts_options(elements)
    elements.add_argument("--out", type=Path, required=True, metavar="FILE.csv", help="output table (.csv or .parquet)")
    elements.set_defaults(handler=command_elements)

    fingerprint = commands.add_parser(
        "fingerprint",
        help="fingerprint formulas",
        description="Write one row per input formula, in input order: formula, error (empty when the row "
        "succeeded) and the 98 fingerprint components. Exits non-zero only when no formula could be processed.",
    )
    fingerprint.add_argument("--formulas", type=Path, required=True, metavar="FILE", help="text file with one formula a line, or CSV/Parquet with a 'formula' column")
    fingerprint.add_argument("--out", type=Path, required=True, metavar="FILE", help="output .csv or .parquet")
    fingerprint.add_argument("--elements", type=Path, metavar="TABLE.csv", help="element-vector table written by the elements command")
    _add_counts_options(fingerprint)
    fingerprint.add_argument("--raw", action="store_true", help="unnormalised fingerprints (default: on the unit sphere)")
    fingerprint.set_defaults(handler=command_fingerprint)

    data = commands.add_parser("data", help="build, load and list datasets", description="Build, load and list datasets.")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    build = data_commands.add_parser(
        "build",
        help="build a built-in dataset from the crabnet wheel",
        description="Build a built-in dataset (mp: ~95.6k Materials Project compositions; oqmd: ~342k OQMD compositions) "
        "from the crabnet 2.0.8 wheel (fetched with pip, sha256-checked) into the cache.",
    )
    build.add_argument("name", nargs="?", default="mp", choices=("mp", "oqmd", "all"), help="dataset to build (default: mp)")
    build.add_argument("--wheel", type=Path, default=None, metavar="PATH", help="use this local crabnet-2.0.8 wheel instead of fetching it")
    build.add_argument("--force", action="store_true", help="rebuild even when the cached copy is valid")
    build.set_defaults(handler=command_data_build)
    load = data_commands.add_parser(
        "load",
        help="load an online dataset (alexandria)",
        description="alexandria: download (resumable, cached) and parse an Alexandria PBE file (convex_hull.json.bz2 "
        "or alexandria_NNN.json.bz2) given by URL or local path. materials-project: query the Materials Project "
        "summary with mp-api (optional package) and the key in MP_API_KEY, and write it to --out.",
    )
    load.add_argument("kind", choices=("alexandria", "materials-project"), help="dataset kind")
    load.add_argument("source", nargs="?", default=None, help="alexandria: URL or local path of the .json.bz2 file")
    load.add_argument("--chemsys", default=None, help="materials-project: restrict to a chemical system, e.g. Li-Fe-O")
    load.add_argument("--out", type=Path, default=None, help="materials-project: output .parquet (or .csv) file")
    load.add_argument("--sha256", default=None, help="expected sha256 of the file, when known")
    load.add_argument("--refresh", action="store_true", help="parse again even when the cached table is valid")
    load.set_defaults(handler=command_data_load)
    info = data_commands.add_parser("info", help="list datasets, rows, sources and cache paths", description="List datasets, rows, sources and cache paths.")
    info.set_defaults(handler=command_data_info)

    mine = commands.add_parser(
        "mine",
        help="mine substitution counts from a dataset",
        description="Mine element-substitution counts from a dataset: two compositions with the same stoichiometry "
        "(and the same prototype, when the dataset has prototype_id) that differ by exactly one element count one "
        "substitution. Writes them in the ICSD format, usable by `elements --counts`.",
    )
    mine.add_argument("--dataset", default="mp", metavar="NAME|PATH", help="mp (default), oqmd, alexandria, or a CSV/Parquet file with a formula column")
    mine.add_argument("--max-e-above-hull", type=_non_negative_float, default=None, metavar="X", help="keep only compositions with e_above_hull <= X eV/atom")
    mine.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder for substitution.dat and substitution.dat.element_count")
    mine.set_defaults(handler=command_mine)

    build_map = commands.add_parser(
        "build-map",
        help="fingerprint a dataset and project it to 2D",
        description="Build a map directory: Parquet of id, formula, x, y and every property; the element map and its "
        "grid layout; metadata (provenance, parameters, versions, quality figures). Written atomically.",
    )
    build_map.add_argument("--dataset", default="mp", metavar="NAME|PATH", help="mp (default), oqmd, alexandria, or a CSV/Parquet file with a formula column")
    build_map.add_argument("--similarity", default="mined", metavar="SOURCE", help="mined (default: mined from the built-in mp), mined:self (from this dataset), mined:NAME|PATH, icsd, or icsd:DIR")
    build_map.add_argument("--variant", choices=VARIANT_CHOICES, default="corrected", help="embedding recipe (default: corrected)")
    build_map.add_argument("--method", choices=("umap", "pca", "tsne"), default="umap", help="projection (default: umap with the paper's settings)")
    build_map.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="projection parameter, repeatable (e.g. --param n_neighbors=30 --param min_dist=0.2)")
    build_map.add_argument("--element-method", choices=("umap", "mds", "pca", "tsne"), default="umap", help="projection of the element map (default: umap)")
    build_map.add_argument("--fit-sample", type=int, default=None, metavar="N", help="fit the projection on N random compounds and place the rest with transform")
    build_map.add_argument("--raw", action="store_true", help="unnormalised fingerprints (default: unit sphere)")
    build_map.add_argument("--out", type=Path, required=True, metavar="DIR", help="output map directory")
    build_map.add_argument("--engine", choices=("local", "dask"), default="local", help="local: one process (default); dask: partitioned build on a dask.distributed cluster, for millions of rows")
    build_map.add_argument("--scheduler", default=None, metavar="ADDRESS", help="dask: address of a running scheduler (tcp://HOST:PORT); default: a LocalCluster on 127.0.0.1 for this build")
    build_map.add_argument("--workers", type=int, default=None, metavar="N", help="dask: worker processes of the LocalCluster (default: one per core)")
    build_map.add_argument("--partition-rows", type=int, default=250_000, metavar="N", help="dask: rows per partition (default 250000)")
    build_map.add_argument("--quiet", action="store_true", help="no progress bar")
    build_map.set_defaults(handler=command_build_map)

    compare = commands.add_parser(
        "compare", help="compare Pettifor embeddings with other element embeddings",
        description="Property prediction (k-NN, gradient-boosted trees), map separability and a learned element "
        "ordering for Pettifor and other element embeddings; writes CSV tables, figures and summary.md into --out.",
    )  # fmt: skip
    compare.add_argument("--dataset", default="mp", help="built-in name, alexandria or a CSV/Parquet path (default mp)")
    compare.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (replaced atomically)")
    compare.add_argument("--icsd", default=None, metavar="DIR|download", help="folder with substitution.dat and substitution.dat.element_count, or 'download'; without it the two ICSD rows are left out (and the output says so)")
    compare.add_argument("--rows", default="30000", metavar="N|all", help="fixed-seed subsample for prediction (default 30000; 'all')")
    compare.add_argument("--map-rows", type=int, default=10000, help="map subsample size; 0 skips the maps (default 10000)")
    compare.add_argument("--map-method", choices=("umap", "pca"), default="umap", help="projection for map separability (default umap)")
    compare.add_argument("--targets", default=None, help="comma-separated (default band_gap,e_form,e_above_hull,magnetization)")
    compare.add_argument("--embeddings", default=None, help="comma-separated subset (default: all but random_200)")
    compare.add_argument("--models", default=None, help="comma-separated: knn,hgb (default both)")
    compare.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    compare.add_argument("--seed", type=int, default=0, help="seed of the subsample and the folds (default 0)")
    compare.add_argument("--normalize", action="store_true", help="unit-sphere composition vectors for every embedding")
    compare.add_argument("--min-substitutions", type=int, default=10, help="seriation: elements with fewer are not placed")
    compare.add_argument("--jobs", type=int, default=2, help="parallel jobs (default 2)")
    compare.add_argument("--embeddings-wheel", type=Path, default=None, metavar="PATH", help="local elementembeddings 0.8.0 wheel (offline)")
    compare.add_argument("--no-svg", action="store_true", help="HTML figures only")
    compare.set_defaults(handler=command_compare)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s: %(message)s")
    if args.command is None:
        args.host = args.port = args.map = None
        args.handler = command_serve
    from data.builtin import BuiltinDataError
    from data.cache import CacheError
    from data.download import DownloadError
    from data.materials_project import MaterialsProjectError

    user_errors = (CommandError, ValueError, KeyError, OSError, DownloadError, BuiltinDataError, CacheError, MaterialsProjectError)
    try:
        return args.handler(args)
    except user_errors as err:
        # Library errors already name the input and the problem: one line, no traceback.
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
