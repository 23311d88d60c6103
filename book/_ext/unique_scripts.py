"""Sphinx extension: include each inline <script> once per page.

Sphinx 7.4 records a body-only script that an extension adds after the builder started (as
sphinx-thebe and sphinx-togglebutton do) twice: once with filename None, once with filename "".
Both copies reach the page, and the second `const THEBE_JS_URL = ...` throws "Identifier
'THEBE_JS_URL' has already been declared" in the browser console on every page
(tests/test_site.py::test_no_console_errors). Dropping the repeat is enough: both copies are equal.
"""


def drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen, unique = set(), []
    for script in context.get("script_files", []):
        key = (script.filename or "", tuple(sorted(script.attributes.items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    # after every other html-page-context handler (the themes add scripts at 500 and 501)
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
