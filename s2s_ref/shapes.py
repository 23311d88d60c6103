"""Shape checks that turn a bad argument into a sentence instead of a broadcasting accident.

Every public function of the reference package states its shapes in letters (``x: (N, D)``);
``check_shapes`` takes the same letters, binds each to a size on first sight and reports the first
argument that disagrees, naming the expected and the actual shape.
"""

import numpy as np


class ShapeError(ValueError):
    """An argument has the wrong number of dimensions or a size that disagrees with the others."""


def check_shapes(func: str, **specs) -> dict:
    """Check arrays against letter shapes; return the sizes bound to each letter.

    specs: ``name=(array, "N T D")``; a letter binds to the size it first meets, an integer in
    the spec is a fixed size. Raises ShapeError naming ``func``, the argument, the expected shape
    (with the sizes known so far) and the actual shape.
    """
    sizes: dict[str, int] = {}
    for name, (array, spec) in specs.items():
        shape = np.shape(array)
        letters = spec.split()
        expected = ", ".join(str(sizes.get(s, s)) for s in letters)
        if len(shape) != len(letters):
            raise ShapeError(
                f"{func}: {name} should have {len(letters)} dimension(s) ({spec}) = ({expected}), "
                f"got shape {shape}"
            )
        for letter, size in zip(letters, shape, strict=True):
            want = int(letter) if letter.isdigit() else sizes.setdefault(letter, size)
            if want != size:
                raise ShapeError(
                    f"{func}: {name} should have shape ({spec}) = ({expected}), got {shape}; "
                    f"{letter} is {want} from the arguments before it"
                )
    return sizes


def as_float(func: str, **arrays) -> list:
    """The arrays as floating-point NumPy arrays, in the order given.

    Floating arrays pass unchanged (no copy); integer and boolean arrays are converted to
    float64, which holds every integer below 2**53 exactly, so ``np.array([[0, -1]])`` gives the
    same result as ``np.array([[0.0, -1.0]])`` instead of a truncated integer one. Anything else
    (complex, strings, objects) raises TypeError naming ``func`` and the argument.
    """
    out = []
    for name, array in arrays.items():
        array = np.asarray(array)
        if array.dtype == bool or np.issubdtype(array.dtype, np.integer):
            array = array.astype(np.float64)
        elif not np.issubdtype(array.dtype, np.floating):
            raise TypeError(
                f"{func}: {name} must be an array of real numbers (floats; integers are computed "
                f"exactly in float64), got dtype {array.dtype}"
            )
        out.append(array)
    return out


def check_cell(func: str, gates: str, x_shape: str, /, **arrays) -> list:
    """Check a recurrent cell's inputs -> the arrays as floats (as_float), in the order given.

    gates: the gate names stacked in the weights, such as "i, f, g, o" (G of them); x_shape:
    "N D" for one step, "N T D" for a sequence; arrays: by name, in the cell's argument order:
    x, the state(s) (N, H), Wx (D, G*H), Wh (H, G*H), then the bias(es) (G*H,). Raises
    ShapeError naming ``func``, the argument and the expected shape (``check_shapes``), also
    when the weights do not hold one block of H columns per gate.
    """
    G = len(gates.split(", "))
    names = list(arrays)
    w = names.index("Wx")
    specs = [x_shape] + ["N H"] * (w - 1) + [f"D {G}H", f"H {G}H"]
    specs += [f"{G}H"] * (len(names) - w - 2)
    sizes = check_shapes(
        func, **{n: (arrays[n], spec) for n, spec in zip(names, specs, strict=True)}
    )
    if sizes[f"{G}H"] != G * sizes["H"]:
        raise ShapeError(
            f"{func}: the weights and biases should have {G}H = {G * sizes['H']} columns (the "
            f"gates {gates} stacked, H = {sizes['H']} each), got {sizes[f'{G}H']}"
        )
    return as_float(func, **arrays)


def steps_shape(step_caches: list) -> str:
    """The shape "N T H" of the states a list of recurrent step caches holds, for check_shapes
    (h_prev is each cache's second entry); letters where no step is cached."""
    N, H = step_caches[0][1].shape if step_caches else ("N", "H")
    return f"{N} {len(step_caches)} {H}"
