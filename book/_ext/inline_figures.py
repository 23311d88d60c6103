"""Sphinx extension: pages draw their figures even when MPLBACKEND is set in the environment.

The kernels that execute the pages inherit this process's environment, and ipykernel draws
inline only when MPLBACKEND is unset. With MPLBACKEND=Agg (usual on headless machines and in CI,
for the tests) plt.show() and glued figures give no image, yet the build passes with -W: the
figures are simply missing (tests/test_site.py::test_images_load_and_have_alt_text catches it).
"""

import os


def setup(app):
    os.environ.pop("MPLBACKEND", None)  # only this build's process and the kernels it starts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
