"""Classroom 50 autograder for the course Sequence to Sequence from Scratch.

Install it as ``<classroom>/autograders/<slug>/autograder.py`` in your Classroom 50 config
repository, one assignment per exercise (a slug containing ``ex01`` ... ``ex08`` grades that
exercise; any other slug grades every exercise), with the runtime block ``{"python": "3.11"}``.
Classroom 50's runner runs it in the learner's checkout: it installs the course package from that
checkout with PyTorch's CPU build, then ``python -m s2s_ref.autograder`` grades and writes
``result.json`` (every test of the course's grader, with its points), ``release-body.md`` (the
feedback table) and the step's ``status``/``summary`` outputs.
"""

import subprocess
import sys

CPU_TORCH = ["--extra-index-url", "https://download.pytorch.org/whl/cpu", "torch==2.13.0"]
install = [sys.executable, "-m", "pip", "install", "--quiet", *CPU_TORCH, "-e", "."]
if subprocess.run(install, check=False).returncode != 0:
    print("::error::could not install the course package (see pip's messages above)")
    sys.exit(1)
sys.exit(subprocess.run([sys.executable, "-m", "s2s_ref.autograder"], check=False).returncode)
