"""One grading process: load a notebook, run one exercise's tests, report each result.

Started by ``runner`` as ``python -m s2s_ref.grading.worker NOTEBOOK EXERCISE FD SCRATCH [...]``.
Results go as JSON lines to file descriptor FD, never to stdout, so nothing the learner prints can
garble them; the learner's stdout and stderr are discarded. Every text that can carry learner
output (feedback, notebook problems) is shortened before it is sent. An error of the grader itself
is reported as an event with its traceback.
"""

import argparse
import json
import os
import signal
import traceback

MAX_MESSAGE = 1500  # characters of one feedback or problem line: learner text is unbounded


class _TestTimeout(BaseException):  # not Exception: learner code must not swallow it by accident
    pass


def _on_alarm(signum, frame):
    raise _TestTimeout


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("notebook")
    parser.add_argument("exercise")
    parser.add_argument("fd", type=int)
    parser.add_argument("scratch", help="an empty folder: the working directory and HOME")
    parser.add_argument("--skip", default="[]", help="JSON list of test names already reported")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per test")
    parser.add_argument("--load-timeout", type=float, default=60.0, help="seconds to load")
    parser.add_argument("--memory-gb", type=float, default=8.0, help="address space cap")
    args = parser.parse_args(argv)
    out = os.fdopen(args.fd, "w", buffering=1)

    def send(**event):
        for key in ("feedback", "message"):
            if key in event:
                event[key] = shorten(event[key])
        if "problems" in event:
            event["problems"] = [shorten(p) for p in event["problems"][:50]]
        out.write(json.dumps(event) + "\n")

    try:
        _grade(args, send)
    except BaseException:
        send(event="error", message=traceback.format_exc(limit=-3))


def shorten(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 40]} … [{len(text) - limit + 40} characters cut]"


def _grade(args, send):
    from s2s_ref.grading import sandbox

    notebook = os.path.abspath(args.notebook)
    sandbox.die_with_parent()
    sandbox.limit_resources(int(args.memory_gb * 2**30))
    sandbox.enter_scratch(args.scratch)
    from s2s_ref.grading.feedback import Feedback
    from s2s_ref.grading.learner import Learner
    from s2s_ref.grading.loader import NotebookError, load_notebook
    from s2s_ref.grading.reference import ImportBlocker, block_reading
    from s2s_ref.grading.registry import get_exercise

    exercise = get_exercise(args.exercise)
    ImportBlocker(exercise.key, exercise.hidden_modules).install()
    block_reading(exercise.hidden_modules)
    sandbox.forbid_processes()
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, args.load_timeout)
    try:
        loaded = load_notebook(notebook)
    except NotebookError as exc:
        send(event="unreadable", message=str(exc))
        return
    except _TestTimeout:
        send(
            event="unreadable",
            message=f"loading the notebook's definitions took over {args.load_timeout:g} s "
            "(an endless loop in a class body, a decorator or a default argument?)",
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
            feedback = (
                f"ran out of memory (the grader allows {args.memory_gb:g} GiB): is an array far "
                "too large?"
            )
        except BaseException as exc:  # SystemExit and KeyboardInterrupt from learner code too
            feedback = f"the test could not run: {type(exc).__name__}: {exc}"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        send(event="result", name=test.name, passed=passed, feedback=feedback)
    send(event="done")


if __name__ == "__main__":
    main()
