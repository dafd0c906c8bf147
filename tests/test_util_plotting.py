"""Plotting helpers: one style, an optional ax=, what they drew returned."""

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import latent_variable_models_util as lvm  # noqa: E402
from book_notebooks import ROOT  # noqa: E402

X, T = lvm.generate_data(lvm.n_true, lvm.mu_true, lvm.sigma_true, seed=0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_importing_the_module_loads_neither_matplotlib_nor_scipy_nor_sklearn():
    code = ("import sys, latent_variable_models_util; "
            "print(sorted(m for m in ('matplotlib', 'scipy', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_book_style_sets_the_rc_parameters():
    lvm.set_book_style()
    for key, value in lvm.BOOK_STYLE.items():
        assert matplotlib.rcParams[key] == (list(value) if isinstance(value, tuple) else value)


def test_plot_data_draws_every_point_on_the_given_axes():
    fig, (a, b) = plt.subplots(1, 2)
    drawn = lvm.plot_data(X, ax=b)
    assert drawn.axes is b and len(a.collections) == 0
    assert drawn.get_offsets().shape == (1000, 2)
    assert b.get_xlabel() and b.get_ylabel()


def test_plot_data_colours_one_hot_labels_by_component():
    drawn = lvm.plot_data(X, color=T)
    colours = drawn.get_facecolors()[:, :3]
    np.testing.assert_allclose(colours[0], lvm.component_colors(3)[0])
    np.testing.assert_allclose(colours[-1], lvm.component_colors(3)[2])


def test_soft_assignments_mix_colours_for_any_number_of_components():
    q = np.full((2, 5), 0.2)
    q[1] = [0.5, 0.5, 0, 0, 0]
    colours = lvm.soft_assignment_colors(q)
    palette = lvm.component_colors(5)
    np.testing.assert_allclose(colours[1], (palette[0] + palette[1]) / 2)
    np.testing.assert_allclose(colours[0], palette.mean(axis=0))
    assert lvm.component_colors(14).shape == (14, 3)


def test_plot_densities_draws_one_contour_set_per_component():
    fig, ax = plt.subplots()
    drawn = lvm.plot_densities(X, lvm.mu_true, lvm.sigma_true, colors=["red", "green", "blue"], ax=ax)
    assert len(drawn) == 3 and all(d.axes is ax for d in drawn)


def test_plot_gmm_plate_draws_and_saves(tmp_path):
    target = tmp_path / "plate.png"
    ax = lvm.plot_gmm_plate(filename=str(target), dpi=50)
    assert target.stat().st_size > 1000
    texts = {t.get_text() for t in ax.texts}
    assert {r"$\mathbf{x}_i$", r"$\mathbf{t}_i$", r"$N$"} <= texts


@pytest.mark.parametrize("call, match", [
    (lambda: lvm.plot_data(np.zeros((5, 3))), "X must have 2 columns"),
    (lambda: lvm.plot_data(X, color=np.ones((10, 3)) / 3), "color must be a colour name or an"),
    (lambda: lvm.plot_data(X, color=T * 0.5), "every row of q must sum to 1"),
    (lambda: lvm.plot_densities(X, lvm.mu_true, lvm.sigma_true, colors=["r", "g"]), "colors must be one colour or 3"),
    (lambda: lvm.plot_densities(X, lvm.mu_true, lvm.sigma_true[:2]), "sigma must hold 3 matrices"),
    (lambda: lvm.plot_gmm_plate(dpi=0), "dpi must be a positive integer"),
    (lambda: lvm.component_colors(0), "n_components must be a positive integer"),
])
def test_bad_plotting_input_is_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()
