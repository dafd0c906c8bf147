"""Sphinx extension: two repairs the web book needs (loaded via ``local_extensions``).

1. **Tagged equations.** The book writes a numbered equation as
   ``$$ \\begin{aligned} ... \\end{aligned} \\tag{n} $$`` (CONTRIBUTING.md), which Jupyter
   and Colab typeset as written. Sphinx's MathJax renderer, however, wraps every display
   that contains a line break ``\\\\`` in ``\\begin{split} ... \\end{split}``, and MathJax
   refuses ``\\tag`` inside ``split``: the reader would see "\\tag not allowed in split
   environment" instead of the equation. A display that carries its own ``\\tag{...}`` is
   therefore handed to MathJax unchanged, between the ``mathjax_display`` delimiters;
   every other display keeps Sphinx's rendering.

2. **Inline scripts written twice.** Sphinx 7.4 adds a body-only script that an extension
   registers after the builder started (sphinx-thebe, sphinx-togglebutton) once with
   the file name ``None`` and again with ``''``, and so writes it twice into every page.
   sphinx-thebe's ``const THEBE_JS_URL = ...`` then throws "Identifier 'THEBE_JS_URL' has
   already been declared" in the reader's console. Once the sources are read, the
   builder's entries are renamed to ``''`` so that the second registration is recognised
   as a duplicate.

3. **Sidebar buttons that open nothing.** pydata-sphinx-theme 0.17 puts a second pair
   of ``.primary-toggle`` / ``.secondary-toggle`` buttons into its (hidden) top bar, in
   front of sphinx-book-theme's visible ones, and both themes attach their click handlers
   to the *first* match only (pydata-sphinx-theme issue #2451, sphinx-book-theme issue
   #917, fixed only in sphinx-book-theme 1.4, which needs Sphinx 8 and so cannot be used
   with Jupyter Book 1). The visible ☰ and contents buttons therefore showed a tooltip
   and did nothing: on a phone the menu never opened, on a desktop the sidebar never
   collapsed. A small script forwards a click on every other toggle to the first one,
   whose handlers do the right thing (a drawer on a narrow screen, collapse on a wide one).

4. **Figures on a phone.** Every figure of a cell output becomes a link to its PNG, so a
   reader can open it full size and zoom in.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.ext import mathjax

__all__ = ["has_own_tag", "visit_displaymath", "merge_inline_scripts", "TOGGLE_AND_FIGURE_JS", "setup"]


def has_own_tag(latex: str) -> bool:
    """True when the display's LaTeX source numbers itself with ``\\tag{...}``."""
    return "\\tag{" in latex or "\\tag*{" in latex


def visit_displaymath(self, node: nodes.math_block) -> None:
    """HTML for a display-math node: unwrapped when tagged, else Sphinx's MathJax rendering."""
    latex = node.astext()
    if node.get("nowrap") or node.get("number") or not has_own_tag(latex):
        return mathjax.html_visit_displaymath(self, node)
    opening, closing = self.builder.config.mathjax_display
    self.body.append(self.starttag(node, "div", CLASS="math notranslate nohighlight"))
    self.body.append(opening + self.encode(latex) + closing)
    self.body.append("</div>\n")
    raise nodes.SkipNode


def merge_inline_scripts(app, env) -> None:
    """Give the builder's body-only scripts the name ``''`` that Sphinx re-registers them with."""
    builder = app.builder
    scripts = getattr(builder, "_js_files", None)
    if scripts is None:
        return
    for i, script in enumerate(scripts):
        if script.filename is None:
            scripts[i] = type(script)("", priority=script.priority, **script.attributes)


TOGGLE_AND_FIGURE_JS = """
document.addEventListener("DOMContentLoaded", () => {
  for (const side of ["primary", "secondary"]) {
    const toggles = Array.from(document.querySelectorAll("." + side + "-toggle"));
    const wired = toggles[0];
    toggles.slice(1).forEach((button) => {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopImmediatePropagation();
        button.blur();
        wired.click();
      }, true);
    });
  }
  document.querySelectorAll("div.cell_output img").forEach((img) => {
    if (img.closest("a, div.animation")) return;
    const link = document.createElement("a");
    link.href = img.currentSrc || img.src;
    link.className = "figure-full-size";
    link.title = "Open the figure full size";
    img.replaceWith(link);
    link.appendChild(img);
  });
});
"""


def setup(app):
    app.setup_extension("sphinx.ext.mathjax")
    _, depart = app.registry.html_block_math_renderers["mathjax"]
    app.registry.html_block_math_renderers["mathjax"] = (visit_displaymath, depart)
    app.connect("env-updated", merge_inline_scripts)
    app.add_js_file(None, body=TOGGLE_AND_FIGURE_JS, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
