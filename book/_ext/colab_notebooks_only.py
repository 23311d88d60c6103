"""Sphinx extension: offer "Launch on Colab" only on pages whose source is a .ipynb file.

Colab opens notebooks from GitHub by path and reads only .ipynb; the book's pages are MyST
Markdown notebooks (.md), for which sphinx-book-theme would still link Colab to the .md file, a
button that can only fail. Binder keeps its button: it opens the .md with the repository's
environment. The exercises, which are .ipynb, have Colab links on the exercises page.
"""


def drop_colab_for_markdown(app, pagename, templatename, context, doctree):
    if str(context.get("page_source_suffix", "")).endswith(".ipynb"):
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            group["buttons"] = [b for b in group["buttons"] if b.get("text") != "Colab"]


def setup(app):
    # after sphinx-book-theme's add_launch_buttons (priority 501), before the page is rendered
    app.connect("html-page-context", drop_colab_for_markdown, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
