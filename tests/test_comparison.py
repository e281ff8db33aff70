"""The comparison study: evaluation functions, and ``run_compare`` end to end on small local data."""

from __future__ import annotations

import hashlib
import json
import zipfile

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from fingerprints.comparison import (
    common_rows,
    cross_validate,
    fold_ids,
    make_regressor,
    map_separability,
    paired_difference,
    summarise_scores,
)

# --------------------------------------------------------------------------- folds and scores


def test_folds_are_balanced_and_fixed_by_the_seed():
    folds = fold_ids(103, n_folds=5, seed=0)
    sizes = np.bincount(folds)
    assert sizes.sum() == 103 and sizes.max() - sizes.min() <= 1
    assert np.array_equal(folds, fold_ids(103, n_folds=5, seed=0))
    assert not np.array_equal(folds, fold_ids(103, n_folds=5, seed=1))
    with pytest.raises(ValueError, match="n_folds"):
        fold_ids(10, n_folds=1)
    with pytest.raises(ValueError, match="at least"):
        fold_ids(3, n_folds=5)


def test_cross_validate_scores_every_fold_and_skips_missing_targets():
    rng = np.random.default_rng(0)
    X = rng.random((400, 3))
    y = 3 * X[:, 0] + X[:, 1]
    y[:20] = np.nan
    folds = fold_ids(400, n_folds=4, seed=0)
    for model in ("knn", "hgb"):
        scores = cross_validate(X, y, folds, model=model)
        assert scores["fold"].tolist() == [0, 1, 2, 3]
        assert scores["n_test"].sum() == 380 and (scores["n_missing_target"] == 20).all()
        assert (scores["mae"] < 0.3 * scores["baseline_mae"]).all()  # learns the signal
    # the baseline is the MAE of the training median
    fold0 = folds == 0
    known = np.isfinite(y)
    expected = np.mean(np.abs(np.median(y[known & ~fold0]) - y[known & fold0]))
    assert scores.loc[0, "baseline_mae"] == pytest.approx(expected)


def test_fold_specific_features_are_asked_for_each_fold():
    X = np.arange(200, dtype=float)[:, None]
    y = X[:, 0] * 2
    folds = fold_ids(200, n_folds=5, seed=3)
    asked = []

    def features(fold):
        asked.append(fold)
        return X

    cross_validate(features, y, folds, model="knn")
    assert asked == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="shape"):
        cross_validate(X[:10], y, folds, model="knn")
    with pytest.raises(ValueError, match="unknown model"):
        make_regressor("svm")


def fold_scores() -> pd.DataFrame:
    rows = []
    for embedding, maes in (("a", [1.0, 2.0, 3.0]), ("b", [2.0, 2.5, 3.5])):
        for fold, mae in enumerate(maes):
            rows.append(
                {
                    "embedding": embedding,
                    "target": "t",
                    "model": "knn",
                    "fold": fold,
                    "mae": mae,
                    "baseline_mae": 4.0,
                    "n_test": 10,
                }
            )
    return pd.DataFrame(rows)


def test_summary_means_spreads_and_ranks():
    summary = summarise_scores(fold_scores()).set_index("embedding")
    assert summary.loc["a", "mae_mean"] == pytest.approx(2.0)
    assert summary.loc["a", "mae_std"] == pytest.approx(1.0)  # ddof=1
    assert summary.loc["b", "mae_mean"] == pytest.approx(8.0 / 3)
    assert summary.loc["a", "rank"] == 1 and summary.loc["b", "rank"] == 2
    assert summary.loc["a", "skill"] == pytest.approx(0.5)
    assert summary.loc["a", "n_test"] == 30 and summary.loc["a", "n_folds"] == 3


def test_paired_difference_fold_by_fold():
    diff = paired_difference(fold_scores(), "a", "b").iloc[0]
    assert diff["diff_mean"] == pytest.approx(np.mean([-1.0, -0.5, -0.5]))
    assert diff["diff_std"] == pytest.approx(np.std([-1.0, -0.5, -0.5], ddof=1))
    assert diff["first_better_folds"] == 3 and diff["n_folds"] == 3
    with pytest.raises(KeyError, match="zz"):
        paired_difference(fold_scores(), "a", "zz")


def test_map_separability_tells_an_ordered_map_from_a_random_one():
    rng = np.random.default_rng(1)
    y = rng.random(1000)
    folds = fold_ids(1000, n_folds=5, seed=0)
    ordered = np.column_stack([y, rng.random(1000) * 0.01])
    scrambled = rng.random((1000, 2))
    good = map_separability(ordered, {"p": y}, folds)
    bad = map_separability(scrambled, {"p": y}, folds)
    assert (good["skill"] > 0.9).all()
    assert abs(bad["skill"].mean()) < 0.15
    assert good["n_test"].sum() == 1000
    with pytest.raises(ValueError, match="no map position"):
        map_separability(np.full((1000, 2), np.nan), {"p": y}, folds)


def test_common_rows_and_the_drop_report():
    covered = {"x": np.array([True, True, False, True]), "y": np.array([True, False, False, True])}
    reasons = {
        "x": np.array(["", "", "no x vector for Cf", ""], dtype=object),
        "y": np.array(["", "no y vector for Ga", "no y vector for Cf", ""], dtype=object),
    }
    keep, report = common_rows(covered, reasons)
    assert keep.tolist() == [True, False, False, True]
    report = report.set_index("embedding")
    assert report.loc["x", "n_not_covered"] == 1 and report.loc["x", "n_only_this"] == 0
    assert report.loc["y", "n_not_covered"] == 2 and report.loc["y", "n_only_this"] == 1
    assert "no y vector for Ga (1 rows)" in report.loc["y", "examples"]


# --------------------------------------------------------------------------- end to end


CATIONS = ["Li", "Na", "K", "Rb", "Mg", "Ca", "Sr", "Ba", "Fe", "Co", "Ni", "Cu", "Zn", "Al", "Ga"]
ANIONS = ["O", "S", "Se", "F", "Cl", "Br", "N"]
ELECTRONEGATIVITY = {
    "Li": 0.98, "Na": 0.93, "K": 0.82, "Rb": 0.82, "Mg": 1.31, "Ca": 1.0, "Sr": 0.95, "Ba": 0.89, "Fe": 1.83,
    "Co": 1.88, "Ni": 1.91, "Cu": 1.9, "Zn": 1.65, "Al": 1.61, "Ga": 1.81, "O": 3.44, "S": 2.58, "Se": 2.55,
    "F": 3.98, "Cl": 3.16, "Br": 2.96, "N": 3.04, "H": 2.2,
}  # fmt: skip
MOD_PETTI_ORDER = (
    "He Ne Ar Kr Xe Rn Fr Cs Rb K Na Li Ra Ba Sr Ca Eu Yb Lu Tm Y Er Ho Dy Tb Gd Sm Pm Nd Pr Ce La Ac Th Pa U "
    "Np Pu Am Cm Bk Cf Sc Zr Hf Ti Ta Nb V Cr Mo W Re Tc Os Ru Ir Rh Pt Pd Au Ag Cu Ni Co Fe Mn Mg Zn Cd Hg Be Al "
    "Ga In Tl Pb Sn Ge Si B C N P As Sb Bi Po Te Se S O At I Br Cl F H"
).split()


@pytest.fixture(scope="module")
def study_inputs(tmp_path_factory):
    """A small dataset (binaries of 15 cations x 7 anions, 2 stoichiometries, plus 2 CsI-type rows) and a fake wheel."""
    folder = tmp_path_factory.mktemp("study")
    rng = np.random.default_rng(0)
    rows = []
    for cation in CATIONS:
        for anion in ANIONS:
            for a, b in ((1, 1), (1, 2), (2, 3)):
                gap = 2.0 * abs(ELECTRONEGATIVITY[anion] - ELECTRONEGATIVITY[cation]) + rng.normal(0, 0.1)
                rows.append(
                    {
                        "formula": f"{cation}{a}{anion}{b}",
                        "band_gap": max(gap, 0.0),
                        "e_form": -gap / 2 + rng.normal(0, 0.05),
                        "e_above_hull": 0.0 if (a, b) == (1, 1) else abs(rng.normal(0, 0.1)),
                        "magnetization": float(cation in ("Fe", "Co", "Ni")) * a * 2.0,
                    }
                )
    rows += [{"formula": "CsI", "band_gap": 5.0, "e_form": -2.0, "e_above_hull": 0.0, "magnetization": 0.0},
             {"formula": "Cs2I2O", "band_gap": 4.0, "e_form": -1.5, "e_above_hull": 0.1, "magnetization": 0.0}]  # fmt: skip
    dataset = folder / "compounds.csv"
    pd.DataFrame(rows).to_csv(dataset, index=False)

    member = "elementembeddings/data/element_representations"
    wheel = folder / "fake.whl"
    magpie = pd.DataFrame({"element": list(ELECTRONEGATIVITY), "Electronegativity": list(ELECTRONEGATIVITY.values()),
                           "Number": np.arange(len(ELECTRONEGATIVITY), dtype=float)})  # fmt: skip
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{member}/magpie.csv", magpie.to_csv(index=False))
        archive.writestr(f"{member}/mod_petti.json", json.dumps({s: i for i, s in enumerate(MOD_PETTI_ORDER)}))
    return dataset, wheel, hashlib.sha256(wheel.read_bytes()).hexdigest()


@pytest.fixture
def pinned_fake_wheel(study_inputs, monkeypatch, tmp_path):
    import data.element_embeddings as element_embeddings

    _, wheel, digest = study_inputs
    monkeypatch.setattr(element_embeddings, "ELEMENTEMBEDDINGS_WHEEL_SHA256", digest)
    monkeypatch.setenv("CHEMMAP_CACHE_DIR", str(tmp_path / "cache"))
    return wheel


def small_spec(dataset, **changes):
    from data.compare import CompareSpec

    settings = dict(
        dataset=str(dataset),
        embeddings=("pettifor-icsd-corrected", "pettifor-mined", "one-hot", "mod_petti-one-hot", "magpie"),
        rows=None,
        n_folds=3,
        map_rows=120,
        map_method="pca",
        n_jobs=1,
        min_substitutions=1,
    )
    settings.update(changes)
    return CompareSpec(**settings)


@pytest.mark.slow
def test_run_compare_end_to_end(study_inputs, pinned_fake_wheel, small_counts_dir, tmp_path):
    from data.compare import OUTPUT_FILES, format_report, run_compare

    dataset, wheel, _ = study_inputs
    out = tmp_path / "results" / "compare"
    result = run_compare(small_spec(dataset, icsd=str(small_counts_dir)), out, embeddings_wheel=wheel, svg=False)

    written = {path.name for path in out.iterdir()}
    assert set(OUTPUT_FILES) <= written and "plotly.min.js" in written
    headline = pd.read_csv(out / "headline.csv")
    assert len(headline) == 8 and set(headline["best"]) <= {"pettifor-icsd-corrected", "pettifor-mined"}
    assert [p.name for p in out.parent.iterdir()] == ["compare"]  # no temporary folder left behind

    # CsI and Cs2I2O have no magpie vector: dropped for everyone, and reported
    rows = pd.read_csv(out / "rows.csv").set_index("embedding")
    assert rows.loc["magpie", "n_not_covered"] == 2 and rows.loc["magpie", "n_only_this"] == 2
    assert "no magpie vector for I, Cs" in rows.loc["magpie", "examples"]

    folds = pd.read_csv(out / "prediction_folds.csv")
    assert set(folds["embedding"]) == {
        "pettifor-icsd-corrected",
        "pettifor-mined",
        "one-hot",
        "mod_petti-one-hot",
        "magpie",
    }
    tested = folds.groupby(["target", "model", "embedding"])["n_test"].sum().unstack()
    assert (tested.nunique(axis=1) == 1).all()  # the same rows for every embedding
    assert tested.loc[("e_form", "knn")].iloc[0] == 315
    # one-hot with permuted axes is the same model for k-NN
    knn = folds[folds["model"] == "knn"].set_index(["target", "fold", "embedding"])["mae"].unstack()
    assert np.allclose(knn["one-hot"], knn["mod_petti-one-hot"])

    summary = result.prediction
    assert {"mae_mean", "mae_std", "rank", "skill"} <= set(summary.columns)
    assert len(summary) == 5 * 4 * 2
    separability = pd.read_csv(out / "separability_summary.csv")
    assert len(separability) == 5 * 4 and separability["skill_mean"].notna().all()
    seriation = pd.read_csv(out / "seriation.csv")
    assert set(seriation["source"]) == {"pettifor-icsd-corrected", "pettifor-icsd-published-2024", "pettifor-mined"}
    assert seriation["spearman"].between(0, 1).all()
    maps = pd.read_parquet(out / "maps.parquet")
    assert len(maps) == 120 and {"formula", "magpie.x", "magpie.y"} <= set(maps.columns)

    run = json.loads((out / "run.json").read_text())
    assert run["counts"]["n_common"] == 315 and run["spec"]["n_folds"] == 3
    assert any("mined once per fold" in note for note in run["notes"])
    text = (out / "summary.md").read_text()
    assert "## MAE, knn" in text and "| pettifor-mined |" in text and "Spearman" in text
    report = format_report(result)
    assert "MAE (knn, mean over folds)" in report and "pettifor-icsd-corrected:" in report


def test_mined_similarity_is_mined_from_the_training_folds_only(study_inputs, pinned_fake_wheel, tmp_path, monkeypatch):
    """With a prediction subsample, each fold mines from its own training rows: neither its test
    rows nor the rows outside the subsample (their energy above hull is a label too). The maps mine
    from the rows outside the map subsample."""
    import data.compare as compare
    from fingerprints.comparison import fold_ids as real_fold_ids

    dataset, wheel, _ = study_inputs
    seen = []
    real_mine = compare.mine_substitution_counts

    def recording_mine(table, **options):
        seen.append((set(table.index), options.get("max_e_above_hull")))
        return real_mine(table, **options)

    monkeypatch.setattr(compare, "mine_substitution_counts", recording_mine)
    spec = small_spec(dataset, embeddings=("pettifor-mined", "one-hot"), rows=150, map_rows=90, models=("knn",))
    compare.run_compare(spec, tmp_path / "out", embeddings_wheel=wheel, svg=False)

    table = pd.read_csv(dataset)
    everything = set(range(len(table)))  # every row is covered by these two embeddings
    sample = np.sort(np.random.default_rng(spec.seed).choice(len(table), size=150, replace=False))
    folds = real_fold_ids(sample.size, n_folds=3, seed=spec.seed)
    map_sample = np.sort(np.random.default_rng(spec.seed + 1).choice(len(table), size=90, replace=False))
    assert seen[0][0] == everything  # the full mining: seriation and coverage only
    assert len(seen) == 1 + 3 + 1
    for fold, (rows, threshold) in enumerate(seen[1:4]):
        assert rows == set(sample[folds != fold].tolist())
        assert not rows & set(sample[folds == fold].tolist())
        assert threshold == pytest.approx(0.05)
    map_rows, threshold = seen[4]
    assert map_rows == everything - set(map_sample.tolist()) and threshold == pytest.approx(0.05)
    notes = json.loads((tmp_path / "out" / "run.json").read_text())["notes"]
    assert any("training rows only" in note for note in notes)


def test_without_icsd_the_two_icsd_rows_are_left_out_and_said_so(study_inputs, pinned_fake_wheel, tmp_path):
    from data.compare import run_compare

    dataset, wheel, _ = study_inputs
    spec = small_spec(
        dataset,
        embeddings=("pettifor-icsd-corrected", "pettifor-icsd-published-2024", "pettifor-mined", "one-hot"),
        map_rows=0,
        models=("knn",),
    )
    result = run_compare(spec, tmp_path / "out", embeddings_wheel=wheel, svg=False)
    assert set(result.prediction["embedding"]) == {"pettifor-mined", "one-hot"}
    assert any("ICSD counts not given" in note for note in result.notes)
    assert "ICSD counts not given" in (tmp_path / "out" / "summary.md").read_text()
    assert not (tmp_path / "out" / "separability_summary.csv").exists()
    assert set(result.seriation["source"]) == {"pettifor-mined"}


def test_the_compare_command_runs_without_the_icsd_counts(study_inputs, pinned_fake_wheel, tmp_path, capsys):
    """``python app.py compare --dataset D --out DIR`` as the issue gives it: no --icsd."""
    import app

    dataset, wheel, _ = study_inputs
    out = tmp_path / "out"
    argv = ["compare", "--dataset", str(dataset), "--out", str(out), "--embeddings-wheel", str(wheel), "--folds", "3",
            "--map-rows", "0", "--models", "knn", "--jobs", "1", "--no-svg", "--min-substitutions", "1",
            "--embeddings", "pettifor-icsd-corrected,pettifor-mined,one-hot"]  # fmt: skip
    assert app.main(argv) == 0
    printed = capsys.readouterr()
    assert "ICSD counts not given" in printed.out + printed.err
    summary = pd.read_csv(out / "prediction_summary.csv")
    assert set(summary["embedding"]) == {"pettifor-mined", "one-hot"}
    assert "ICSD counts not given" in (out / "summary.md").read_text()


def test_bad_settings_are_refused_before_any_work(study_inputs, tmp_path):
    from data.compare import CompareSpec, parse_rows, run_compare

    dataset, wheel, _ = study_inputs
    with pytest.raises(ValueError, match="unknown embedding"):
        CompareSpec(embeddings=("pettifor-mined", "word2vec"))
    with pytest.raises(ValueError, match="unknown model"):
        CompareSpec(models=("svm",))
    with pytest.raises(ValueError, match="map_method"):
        CompareSpec(map_method="tsne")
    with pytest.raises(ValueError, match="rows"):
        CompareSpec(rows=5)
    assert CompareSpec(targets="band_gap, e_form").targets == ("band_gap", "e_form")
    assert parse_rows("all") is None and parse_rows("30000") == 30000
    with pytest.raises(ValueError, match="--rows"):
        parse_rows("-3")
    with pytest.raises(KeyError, match="density"):
        run_compare(small_spec(dataset, targets=("density",)), tmp_path / "out", embeddings_wheel=wheel)
    with pytest.raises(FileNotFoundError, match="substitution.dat"):
        run_compare(small_spec(dataset, icsd=str(tmp_path)), tmp_path / "out", embeddings_wheel=wheel)
    assert not (tmp_path / "out").exists()


def test_figure_builders():
    from data.compare import mae_figure, separability_figure, seriation_figure

    summary = summarise_scores(fold_scores())
    fig = mae_figure(summary)
    assert isinstance(fig, go.Figure) and len(fig.data) == 1
    assert list(fig.data[0].x) == ["a", "b"] and fig.data[0].error_y.array[0] == pytest.approx(1.0)
    separability = pd.DataFrame(
        {"embedding": ["a", "b"], "target": ["t", "t"], "skill_mean": [0.5, 0.2], "skill_std": [0.1, 0.1]}
    )
    assert len(separability_figure(separability).data) == 2
    orders = pd.DataFrame(
        {"source": ["s"] * 3, "element": ["H", "He", "Li"], "position": [0, 1, 2], "mod_petti": [102.0, 0.0, 11.0]}
    )
    seriation = pd.DataFrame({"source": ["s"], "min_substitutions": [10], "spearman": [0.5], "n_elements": [3]})
    fig = seriation_figure(orders, seriation)
    assert "Spearman 0.500" in fig.layout.annotations[0].text


def test_best_pettifor_against_the_best_other_embedding():
    from fingerprints.comparison import best_against_rest

    scores = fold_scores()
    extra = scores[scores["embedding"] == "b"].assign(embedding="c", mae=[2.5, 2.0, 3.0])
    table = best_against_rest(pd.concat([scores, extra]), ["b", "c"]).iloc[0]
    assert table["best"] == "c" and table["best_mae"] == pytest.approx(2.5)
    assert table["best_other"] == "a" and table["best_other_mae"] == pytest.approx(2.0)
    assert table["change"] == pytest.approx(0.25)
    assert table["diff_mean"] == pytest.approx(0.5) and table["folds_won"] == 0 and table["n_folds"] == 3
