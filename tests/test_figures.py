"""Figures are outputs too: every stored figure matches a fresh run of its notebook.

nbval skips images, so this test re-runs each notebook in a clean kernel and
compares each PNG with the stored one using matplotlib's image comparison
(RMS difference of the decoded pixels), which tolerates antialiasing noise but
not a moved curve, a changed colour or a missing element.
"""

import pytest
from matplotlib.testing.compare import compare_images

from notebook_support import NOTEBOOK_IDS, NOTEBOOKS, execute, png_outputs, read

TOLERANCE = 2.0  # RMS over 0-255 pixel values


def _compare(stored: bytes, fresh: bytes, tmp_path, k):
    a, b = tmp_path / f"stored_{k}.png", tmp_path / f"fresh_{k}.png"
    a.write_bytes(stored)
    b.write_bytes(fresh)
    return compare_images(str(a), str(b), tol=TOLERANCE, in_decorator=True)


def test_comparison_detects_a_changed_figure(tmp_path):
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def render(slope):
        fig, ax = plt.subplots(figsize=(3, 2), dpi=80)
        ax.plot([0, 1], [0, slope])
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return buf.getvalue()

    assert _compare(render(1.0), render(1.0), tmp_path, 0) is None
    assert _compare(render(1.0), render(-1.0), tmp_path, 1) is not None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=NOTEBOOK_IDS)
def test_stored_figures_match_a_fresh_run(path, tmp_path):
    stored = png_outputs(read(path))
    fresh = png_outputs(execute(path))
    assert len(fresh) == len(stored), f"{len(stored)} stored figures, {len(fresh)} in a fresh run"
    failures = [k for k, (s, f) in enumerate(zip(stored, fresh)) if _compare(s, f, tmp_path, k) is not None]
    assert not failures, f"figures {failures} differ from a fresh run: run `make execute` and look at them"
