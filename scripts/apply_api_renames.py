"""Rewrite chapters (and any other code) from the helper's old public names to the names of the package.

The helper module became the package ``lvmbook`` behind the facade ``latent_variable_models_util``
(issue 11), and a few public names changed so that one convention holds: validation functions are
``validate_*`` (the ``check_*`` names now only grade a learner's code), the log-space E-step says
what it returns, the weights are ``pi`` everywhere (as ``GMMFit.pi`` and the article), and the
starting parameters of every fit are ``init``. This script rewrites, idempotently:

* in code cells of notebooks (and in .py files): ``lvm.<old>`` -> ``lvm.<new>`` for the names of
  ``RENAMES``; the attributes of ``ATTRIBUTE_RENAMES`` (``.weights`` -> ``.pi`` ...; never the
  scikit-learn spellings with a trailing underscore, never a call); the keyword ``init_params=``
  in calls of ``lvm.fit_gmm_dask`` and ``lvm.online_em``;
* in Markdown cells of notebooks and in .md files: the same names inside backticks.

Usage: ``python scripts/apply_api_renames.py [--check] [FILE ...]`` (default: book/*.ipynb and
book/*.md). ``--check`` changes nothing and exits 1 if a file would change. Stored outputs are
left alone: the renames change no number.
"""

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Old public name -> new public name (``lvm.<old>`` in code, ``<old>`` inside backticks in prose).
RENAMES = {
    "check_data": "validate_data",
    "check_weights": "validate_weights",
    "check_means": "validate_means",
    "check_covariances": "validate_covariances",
    "check_counts": "validate_counts",
    "check_responsibilities": "validate_responsibilities",
    "fast_e_step": "log_responsibilities",
}

#: Attributes of VBGMMFit and VBPosterior renamed to the names of GMMFit and the article.
ATTRIBUTE_RENAMES = {"weights": "pi", "means": "mu", "covariances": "sigma"}

#: Functions whose keyword ``init_params`` became ``init``.
INIT_KEYWORD_FUNCTIONS = ("fit_gmm_dask", "online_em")

_NAME = re.compile(r"\blvm\.(" + "|".join(RENAMES) + r")\b")
# ``.weights`` etc. as an attribute: not ``.weights_`` (scikit-learn), not a method call.
_ATTRIBUTE = re.compile(r"(?<=[\w\)\]])\.(" + "|".join(ATTRIBUTE_RENAMES) + r")\b(?![_(])")
_INIT_CALL = re.compile(r"\blvm\.(?:" + "|".join(INIT_KEYWORD_FUNCTIONS) + r")\(")
_BACKTICKS = re.compile(r"`[^`\n]+`")


def _rename_init_keyword(code):
    """``init_params=`` -> ``init=`` inside the parentheses of calls of INIT_KEYWORD_FUNCTIONS."""
    out, pos = [], 0
    for match in _INIT_CALL.finditer(code):
        if match.start() < pos:
            continue
        depth, end = 1, match.end()
        while end < len(code) and depth:
            depth += {"(": 1, ")": -1}.get(code[end], 0)
            end += 1
        out.append(code[pos:match.end()])
        out.append(re.sub(r"\binit_params(\s*=)", r"init\1", code[match.end():end]))
        pos = end
    return "".join(out) + code[pos:]


def rename_code(code):
    """The renames of a code cell or .py file."""
    code = _NAME.sub(lambda m: "lvm." + RENAMES[m.group(1)], code)
    code = _ATTRIBUTE.sub(lambda m: "." + ATTRIBUTE_RENAMES[m.group(1)], code)
    return _rename_init_keyword(code)


def rename_prose(text):
    """The renames of Markdown: names inside backtick spans only (prose words are left alone)."""
    def span(match):
        s = match.group(0)
        s = re.sub(r"\b(" + "|".join(RENAMES) + r")\b", lambda m: RENAMES[m.group(1)], s)
        s = _ATTRIBUTE.sub(lambda m: "." + ATTRIBUTE_RENAMES[m.group(1)], s)
        if re.search(r"\b(?:" + "|".join(INIT_KEYWORD_FUNCTIONS) + r")\(", s):
            s = re.sub(r"\binit_params\b", "init", s)
        return s
    return _BACKTICKS.sub(span, text)


def rename_notebook(text):
    nb = json.loads(text)
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        new = rename_code(source) if cell["cell_type"] == "code" else rename_prose(source)
        if new != source:
            cell["source"] = new.splitlines(keepends=True)
    return json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def rename_file(path):
    """The new text of ``path`` (a .ipynb, .md or .py file)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        new = rename_notebook(text)
        return text if json.loads(new) == json.loads(text) else new
    if path.suffix == ".md":
        return rename_prose(text)
    return rename_code(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file would change")
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args(argv)
    files = args.files or sorted((ROOT / "book").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md"))
    changed = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        new = rename_file(path)
        if new != text:
            changed.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    for path in changed:
        print(("would rewrite " if args.check else "rewrote ") + str(path))
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
