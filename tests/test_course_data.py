"""Old Faithful ships with the book and loads offline; animations embed and play offline."""

import base64
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import latent_variable_models_util as lvm
from book_notebooks import ROOT
from package_support import copy_package_alone

FAITHFUL = ROOT / "book" / "data" / "faithful.csv"


def test_faithful_is_the_documented_file():
    digest = hashlib.sha256(FAITHFUL.read_bytes()).hexdigest()
    readme = (ROOT / "book" / "data" / "README.md").read_text()
    assert digest in readme, "book/data/README.md must state the SHA-256 of faithful.csv"
    assert "MIT" in readme and "plotnine" in readme
    assert FAITHFUL.read_text().splitlines()[0] == '"eruptions","waiting"'


def test_load_faithful_values():
    data = lvm.load_faithful()
    assert data.shape == (272, 2)
    np.testing.assert_allclose(data[0], [3.6, 79.0])
    np.testing.assert_allclose(data[-1], [4.467, 74.0])
    np.testing.assert_allclose([data[:, 0].min(), data[:, 0].max()], [1.6, 5.1])
    assert data[:, 1].min() == 43 and data[:, 1].max() == 96


def _run_alone(tmp_path, env_extra):
    """Import a copy of the package without book/data from an empty folder; call load_faithful."""
    copy_package_alone(tmp_path / "lib")
    env = {k: v for k, v in os.environ.items() if k not in ("LVM_BOOK_ROOT", "LVM_BOOK_BASE_URL")}
    env.update(env_extra, PYTHONPATH=str(tmp_path / "lib"))
    (tmp_path / "work").mkdir(exist_ok=True)
    code = ("import latent_variable_models_util as lvm\n"
            "try:\n"
            "    print(lvm.load_faithful().shape)\n"
            "except RuntimeError as exc:\n"
            "    print('RuntimeError:', exc)\n")
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path / "work", env=env,
                          capture_output=True, text=True, check=True).stdout


def test_load_faithful_reads_faithful_csv_next_to_the_notebook(tmp_path):
    (tmp_path / "work").mkdir()
    shutil.copy(FAITHFUL, tmp_path / "work" / "faithful.csv")
    assert _run_alone(tmp_path, {}).strip() == "(272, 2)"


def test_load_faithful_says_clearly_when_it_cannot_find_the_data(tmp_path):
    out = _run_alone(tmp_path, {"LVM_BOOK_BASE_URL": ROOT.as_uri()})     # and downloads nothing
    assert "RuntimeError: faithful.csv not found" in out and "set-up cell" in out
    assert not (tmp_path / "work" / "faithful.csv").exists()


def test_load_faithful_uses_lvm_book_root(tmp_path):
    out = _run_alone(tmp_path, {"LVM_BOOK_ROOT": str(ROOT)})
    assert out.strip() == "(272, 2)"
    assert not (tmp_path / "work" / "faithful.csv").exists()


# --- animations ---------------------------------------------------------------------------

def _animation(dpi=50):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    lvm.set_book_style()  # savefig.dpi = 100: the frames must still use the figure's dpi
    fig, ax = plt.subplots(figsize=(2.0, 1.5), dpi=dpi)
    (line,) = ax.plot([0, 1], [0, 0])

    def frame(i):
        line.set_ydata([0, i])
        return (line,)

    return fig, FuncAnimation(fig, frame, frames=3)


def test_animation_html_is_offline_and_deterministic():
    import matplotlib.pyplot as plt

    fig, anim = _animation()
    first = lvm.animation_html(anim, name="demo")
    second = lvm.animation_html(anim, name="demo")
    plt.close(fig)
    assert first == second
    assert "http://" not in first and "https://" not in first and "<link" not in first
    assert "fa fa-" not in first and "\u25b6" in first                # plain-character icons
    assert "anim_demo.play_animation()" in first
    assert not re.search(r"[0-9a-f]{32}", first)                     # no random id left
    frames = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=\\n]+)", first)
    assert len(frames) == 3


def test_animation_frames_use_the_figure_dpi():
    import matplotlib.pyplot as plt
    from PIL import Image

    fig, anim = _animation(dpi=50)
    html = lvm.animation_html(anim, name="small")
    plt.close(fig)
    b64 = re.search(r"data:image/png;base64,([^\"']+)", html).group(1).replace("\\n", "")
    with Image.open(io.BytesIO(base64.b64decode(b64))) as img:
        width, height = img.size
    assert abs(width - 100) <= 1 and abs(height - 75) <= 1  # 2.0 x 1.5 inches at 50 dpi, not at 100


def test_animation_html_carries_alt_text_for_screen_readers():
    import matplotlib.pyplot as plt

    fig, anim = _animation()
    html = lvm.animation_html(anim, name="described", alt='EM "iterations" & contours')
    plt.close(fig)
    assert '<img id="_anim_img_described" alt="EM &quot;iterations&quot; &amp; contours">' in html


@pytest.mark.parametrize("name", ["", "1abc", "has space", "a-b", None])
def test_animation_html_rejects_bad_names(name):
    with pytest.raises(ValueError, match="name must be an identifier"):
        lvm.animation_html(object(), name=name)
