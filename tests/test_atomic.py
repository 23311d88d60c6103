"""s2s_ref.atomic: every file the package writes is whole or absent, never an input."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from s2s_ref.atomic import atomic_open, check_output, sweep_temp_files, write_atomic


def test_write_atomic_writes_text_and_bytes(tmp_path):
    write_atomic(tmp_path / "a.txt", "héllo")
    write_atomic(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "grades.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target, "w") as f:
        f.write("half of the new")
        raise RuntimeError("killed half-way")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["grades.json"]


def test_refuses_to_overwrite_an_input(tmp_path):
    nb = tmp_path / "nb.ipynb"
    nb.write_text("{}")
    with pytest.raises(ValueError, match="refusing to overwrite the input"):
        write_atomic(nb, "gradebook", inputs=[nb])
    with pytest.raises(ValueError, match="refusing to overwrite the input"):
        write_atomic(tmp_path / "." / "nb.ipynb", "gradebook", inputs=[nb])
    assert nb.read_text() == "{}"


def test_missing_folder_and_folder_target_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_output(tmp_path / "nope" / "x.json")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        check_output(tmp_path)
    with pytest.raises(TypeError, match="bytes or str"):
        write_atomic(tmp_path / "x", 3)


def test_sweep_removes_only_temp_files_of_killed_writers(tmp_path):
    # A writer killed between the temp file and the rename leaves its temp file behind.
    script = textwrap.dedent(f"""
        import os, signal
        from s2s_ref.atomic import atomic_open
        with atomic_open({str(tmp_path / "ckpt.pt")!r}) as f:
            f.write(b"x" * 1000)
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd())
    assert proc.returncode == -signal.SIGKILL
    (tmp_path / "keep.txt").write_text("mine")
    left = [p.name for p in tmp_path.iterdir() if p.name != "keep.txt"]
    assert len(left) == 1 and left[0].startswith(".ckpt.pt.tmp-")
    removed = sweep_temp_files(tmp_path)
    assert [p.name for p in removed] == left
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
