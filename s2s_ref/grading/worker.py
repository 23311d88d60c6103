"""One grading process: load a notebook, run one exercise's tests, report each result.

Started by ``runner`` as ``python -m s2s_ref.grading.worker NOTEBOOK EXERCISE FD [--skip NAMES]``.
Results go as JSON lines to file descriptor FD, never to stdout, so nothing the learner prints can
forge or garble them; the learner's stdout and stderr are discarded. An error of the grader itself
is reported as an event with its traceback.
"""

import argparse
import json
import os
import resource
import signal
import sys
import tempfile
import traceback

MEMORY_LIMIT_BYTES = 8 * 2**30


class _TestTimeout(BaseException):  # not Exception: learner code must not swallow it
    pass


def _on_alarm(signum, frame):
    raise _TestTimeout


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("exercise")
    parser.add_argument("fd", type=int)
    parser.add_argument("--skip", default="[]", help="JSON list of test names already reported")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    out = os.fdopen(args.fd, "w", buffering=1)

    def send(**event):
        out.write(json.dumps(event) + "\n")

    try:
        _grade(args, send)
    except BaseException:
        send(event="error", message=traceback.format_exc(limit=-3))


def _grade(args, send):
    notebook = os.path.abspath(args.notebook)
    _sandbox()
    from s2s_ref.grading.feedback import Feedback
    from s2s_ref.grading.learner import Learner
    from s2s_ref.grading.loader import NotebookError, load_notebook
    from s2s_ref.grading.reference import ImportBlocker, block_reading
    from s2s_ref.grading.registry import get_exercise

    exercise = get_exercise(args.exercise)
    ImportBlocker(exercise.key, exercise.hidden_modules).install()
    block_reading(exercise.hidden_modules)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, args.timeout)
    try:
        loaded = load_notebook(notebook)
    except NotebookError as exc:
        send(event="unreadable", message=str(exc))
        return
    except _TestTimeout:
        send(
            event="unreadable",
            message=f"loading the notebook's definitions took over {args.timeout:g} s",
        )
        return
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    send(event="loaded", problems=loaded.problems)

    learner = Learner(loaded.namespace)
    skip = set(json.loads(args.skip))
    for test in exercise.tests:
        if test.name in skip:
            continue
        send(event="start", name=test.name)
        passed, feedback = False, ""
        signal.setitimer(signal.ITIMER_REAL, args.timeout)
        try:
            test.run(learner)
            passed = True
        except Feedback as exc:
            feedback = str(exc)
        except _TestTimeout:
            feedback = f"timed out after {args.timeout:g} s: is there an endless loop?"
        except MemoryError:
            feedback = "ran out of memory (the grader allows 8 GiB): is an array far too large?"
        except BaseException as exc:  # SystemExit and KeyboardInterrupt from learner code too
            feedback = f"the test could not run: {type(exc).__name__}: {exc}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        send(event="result", name=test.name, passed=passed, feedback=feedback)
    send(event="done")


def _sandbox():
    """A memory cap, a scratch working directory and HOME, no display, quiet stdout."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    scratch = tempfile.mkdtemp(prefix="s2s-grade-")
    os.chdir(scratch)
    os.environ.update(HOME=scratch, MPLBACKEND="Agg")
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        os.dup2(devnull, fd)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)


if __name__ == "__main__":
    main()
