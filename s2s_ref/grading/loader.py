"""A notebook to a namespace of the learner's functions, running nothing else.

Only imports, ``def``, ``class`` and assignments of constants are executed (an AST filter), so a
learner's training loops, plots and check cells never run while grading. Each statement runs on
its own: a cell that does not parse, or an import that fails, is reported with its cell number and
the rest is still loaded. Later definitions replace earlier ones, as in Jupyter.
"""

import ast
import json
import linecache
import re
import tokenize
from dataclasses import dataclass, field

import nbformat

_CONSTANT_NODES = (
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Set,
    ast.Dict,
    ast.UnaryOp,
    ast.BinOp,
    ast.Name,
    ast.Attribute,
    ast.Load,
    ast.operator,
    ast.unaryop,
)  # fmt: skip  (a table of node kinds)


@dataclass
class LoadedNotebook:
    namespace: dict
    problems: list[str] = field(default_factory=list)  # one sentence per cell that failed
    # {name: why it is not defined}: defs in a cell that does not parse, or nested in a block
    broken: dict[str, str] = field(default_factory=dict)


class NotebookError(Exception):
    """The file is not a readable Jupyter notebook."""


def read_code_cells(path) -> list[tuple[int, str]]:
    """(cell number counted from 1 over all cells, source) of every code cell of a notebook."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise NotebookError(f"{path}: no such file") from None
    except (json.JSONDecodeError, nbformat.reader.NotJSONError, UnicodeDecodeError) as exc:
        raise NotebookError(f"{path}: not a notebook (not valid JSON: {exc})") from None
    except Exception as exc:  # nbformat raises several kinds for malformed structure
        raise NotebookError(
            f"{path}: not a readable notebook ({type(exc).__name__}: {exc})"
        ) from None
    return [(i, c.source) for i, c in enumerate(nb.cells, start=1) if c.cell_type == "code"]


def keep(node: ast.stmt) -> bool:
    """Whether a top-level statement is run when grading: imports, defs, classes, constants, and
    ``try`` blocks made only of those (``try: import torch`` / ``except ImportError: ...``)."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Pass)):
        return True
    if isinstance(node, ast.Try):
        blocks = [node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)]
        return all(keep(child) for block in blocks for child in block)
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return all(isinstance(t, ast.Name) for t in targets) and all(
            isinstance(n, _CONSTANT_NODES) for n in ast.walk(node.value)
        )
    return False


def load_notebook(path, namespace: dict | None = None) -> LoadedNotebook:
    """Execute the kept statements of every code cell, in order, into one namespace."""
    loaded = LoadedNotebook(namespace if namespace is not None else {"__name__": "learner"})
    cells = read_code_cells(path)
    if not any(source.strip() for _, source in cells):
        loaded.problems.append("the notebook has no code: is it the right file?")
    for code_number, (number, source) in enumerate(cells, start=1):
        try:
            source = _without_magics(source)
            tree = ast.parse(source)
        except Exception as exc:  # whatever the parser or IPython raises: see _unparsable
            first = source.strip().splitlines()[0][:60] if source.strip() else ""
            why = _unparsable(exc)
            where = f"code cell {code_number} (cell {number}), starting `{first}`"
            loaded.problems.append(f"{where} does not parse and was skipped: {why}")
            for name in _DEF.findall(source):
                loaded.broken[name] = f"`{name}` is in {where}, which does not parse: {why}"
            continue
        # register the cell's text so that tracebacks, and feedback, can quote its lines
        linecache.cache[f"<cell {number}>"] = (len(source), None, source.splitlines(True), "")
        for node in tree.body:
            if keep(node):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, (ast.FunctionDef, ast.ClassDef)):
                    loaded.broken.setdefault(
                        inner.name,
                        f"`{inner.name}` is defined inside a `{type(node).__name__.lower()}` "
                        f"block (cell {number}, line {node.lineno}), which grading does not "
                        "run: define it at the top level of its cell",
                    )
        tampering = sorted(_tampering(tree))
        if tampering:
            loaded.problems.append(
                f"cell {number} uses {', '.join(tampering)}, which graded code has no need for: "
                "noted for the instructor"
            )
        for node in filter(keep, tree.body):
            module = ast.Module(body=[node], type_ignores=[])
            try:
                exec(compile(module, f"<cell {number}>", "exec"), loaded.namespace)
            except (Exception, SystemExit, KeyboardInterrupt, GeneratorExit) as exc:  # at load
                loaded.problems.append(
                    f"cell {number}, line {node.lineno}: {type(exc).__name__}: {exc}"
                )
    for name in list(loaded.broken):  # a nested def matters only when nothing else defines it
        if name in loaded.namespace and "does not parse" not in loaded.broken[name]:
            del loaded.broken[name]
    return loaded


def _unparsable(exc: Exception) -> str:
    """Why a cell does not parse: a SyntaxError (IndentationError, TabError), a ValueError (a lone
    surrogate, a NUL byte), or whatever IPython's input transformer raises on text its tokenizer
    rejects (``tokenize.TokenError`` and the like), with the line where known."""
    message, line = getattr(exc, "msg", None), getattr(exc, "lineno", None)
    if isinstance(exc, tokenize.TokenError) and len(exc.args) == 2:
        message, line = exc.args[0], exc.args[1][0]
    why = f"{type(exc).__name__}: {message or exc}"
    return f"{why} (line {line})" if line else why


_DEF = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", re.MULTILINE)

# Machinery that can tamper with the grading process itself (see the instructors' appendix)
_TAMPERING_MODULES = re.compile(
    r"((gc|ctypes|signal|builtins)(\.|$))|s2s_ref\.grading"
    r"(\.(ex\d\d|reference|worker|runner|sandbox|learner|loader|registry|feedback)(\.|$)|$)"
)  # the grading package's helpers for notebooks (such as ex06_training) are not listed
_TAMPERING_ATTRIBUTES = {"__code__", "__globals__", "__builtins__", "addaudithook", "setitimer"}
_TAMPERING_OS = {"write", "dup", "dup2", "kill", "killpg", "fdopen"}


def _tampering(tree: ast.AST) -> set[str]:
    """The names in a cell that reach into the grader's process (modules, code objects, fds)."""
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
        found |= {f"`{n}`" for n in names if _TAMPERING_MODULES.match(n)}
        if isinstance(node, ast.Attribute):
            owner = node.value.id if isinstance(node.value, ast.Name) else ""
            if (
                node.attr in _TAMPERING_ATTRIBUTES
                or (owner == "sys" and node.attr == "modules")
                or (owner == "os" and node.attr in _TAMPERING_OS)
            ):
                found.add(f"`{owner + '.' if owner else ''}{node.attr}`")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "_s2s_reference" in node.value or "/proc/" in node.value:
                found.add(repr(node.value[:40]))
    return found


# Cell magics whose body is ordinary Python that Jupyter runs in the notebook's namespace
_PYTHON_CELL_MAGICS = ("%%time", "%%capture")


def _without_magics(source: str) -> str:
    """IPython syntax (%magic, !shell, %%cell) turned into plain Python calls, which are dropped.

    A ``%%time`` or ``%%capture`` cell keeps its body, as Jupyter runs it; other cell magics
    (``%%bash``, ``%%writefile``, ``%%html``...) hold no Python and are dropped whole.
    """
    first, _, body = source.lstrip().partition("\n")
    if first.split(" ")[0] in _PYTHON_CELL_MAGICS:
        source = "\n" * (source.count("\n") - body.count("\n")) + body  # keep line numbers
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        lines = source.splitlines()
        if lines and lines[0].startswith("%%"):
            return ""
        return "\n".join("" if line.lstrip()[:1] in "%!" else line for line in lines)
    return TransformerManager().transform_cell(source)
