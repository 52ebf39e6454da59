"""Output paths that are not regular files (stop 51): before, every write renamed a temporary sibling over the path,
so, run as root, ``-o /dev/null`` made the device a regular file, a symbolic link was replaced by a file (the user's
file it named left stale), a named pipe was replaced, and a folder gave whatever ``os.replace`` said. Now
(``inferchip.atomic_io.output_target``): a link is written through (the link stays), a named pipe or a character
device is written straight into, and a folder, socket, block device or link loop is refused naming the path, what it
is and what is allowed, with nothing created. Every node here is made under ``tmp_path``: no test touches ``/dev``.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_in_process import run_main
from hang_guard import time_limit
from inferchip import atomic_io
from inferchip.atomic_io import output_target, write_all, write_report_file, write_text
from inferchip.errors import InvalidSettingError, OutputError
from inferchip.interfaces.cli_options.files import MARKDOWN_SUFFIXES, YAML_SUFFIXES, check_writable
from inferchip.interfaces.report.output import REPORT_FILES, check_out_folder, commit_output, prepare_output

ROOT = os.geteuid() == 0
NULL, FULL = os.makedev(1, 3), os.makedev(1, 7)  # Linux's /dev/null and /dev/full (devices.txt, major 1)


@contextmanager
def reading(fifo: Path) -> Iterator[list[bytes]]:
    """A thread reading ``fifo`` to its end; what it read is in the list once the block ends."""
    got: list[bytes] = []
    t = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    t.start()
    try:
        yield got
    finally:
        if not got and t.is_alive():  # no writer came: open it once so the reader ends
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
            except OSError as exc:  # ENXIO: the reader read to the end and closed, its append not yet run (a loaded
                if exc.errno != errno.ENXIO:  # machine, review52c's suite run): the join below waits for it
                    raise
        t.join(10)


def _char_device(path: Path, dev: int) -> Path:
    if not ROOT:
        pytest.skip("making a device node needs root")
    os.mknod(path, 0o666 | stat.S_IFCHR, dev)
    return path


def _listing(folder: Path) -> set[str]:
    return set(os.listdir(folder))


def test_a_symbolic_link_is_written_through_and_stays(tmp_path):
    real = tmp_path / "mine.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to("mine.txt")
    write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == "mine.txt" and real.read_text() == "new"
    assert _listing(tmp_path) == {"mine.txt", "link.txt"}


def test_a_dangling_link_creates_the_file_it_names_where_its_folder_exists(tmp_path):
    link = tmp_path / "out.yaml"
    link.symlink_to("made.yaml")
    write_text(link, "a: 1\n")
    assert link.is_symlink() and (tmp_path / "made.yaml").read_text() == "a: 1\n"
    far = tmp_path / "far.yaml"
    far.symlink_to("missing/made.yaml")
    with pytest.raises(OutputError, match=r"far\.yaml: a symbolic link to .*missing/made\.yaml, whose folder does not "
                                          r"exist; allowed: a regular file"):
        write_text(far, "x")
    assert not (tmp_path / "missing").exists() and far.is_symlink()


def test_a_link_loop_is_refused(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to("loop")
    with pytest.raises(OutputError, match=r"loop: a symbolic link that cannot be followed \(.+\); allowed: "):
        write_text(loop, "x")
    assert _listing(tmp_path) == {"loop"}


def test_a_fifo_is_written_straight_into_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with time_limit(20), reading(fifo) as got:
        write_text(fifo, "through the pipe\n" * 10_000)  # more than a pipe's buffer: written in parts
    assert got == [b"through the pipe\n" * 10_000] and fifo.is_fifo()
    assert _listing(tmp_path) == {"pipe"}  # no temporary sibling


def test_a_character_device_is_written_straight_into_and_stays_one(tmp_path):
    null = _char_device(tmp_path / "null", NULL)
    write_text(null, "discarded")
    assert null.is_char_device() and _listing(tmp_path) == {"null"}
    link = tmp_path / "to-null"
    link.symlink_to(null)
    write_text(link, "discarded")
    assert link.is_symlink() and null.is_char_device()


def test_a_full_device_is_one_output_error_and_stays_a_device(tmp_path):
    full = _char_device(tmp_path / "full", FULL)
    with pytest.raises(OutputError, match=r"cannot write .*full: No space left on device \(written straight into"):
        write_text(full, "x")
    assert full.is_char_device() and _listing(tmp_path) == {"full"}


def test_a_folder_or_a_socket_is_refused_naming_it_and_nothing_is_created(tmp_path):
    folder = tmp_path / "out.yaml"
    folder.mkdir()
    with pytest.raises(OutputError, match=r"out\.yaml: is a folder; allowed: a regular file \(new or existing\), a "
                                          r"symbolic link to one, or a named pipe \(FIFO\) or character device"):
        write_text(folder, "x")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "s"))
        with pytest.raises(OutputError, match=r"s: is a socket; allowed: "):
            write_text(tmp_path / "s", "x")
    finally:
        sock.close()
    assert _listing(tmp_path) == {"out.yaml", "s"} and not os.listdir(folder)


def test_a_block_device_is_refused_before_anything_is_opened(tmp_path, monkeypatch):
    # no block node is made (a real disk's numbers would be written to if the check regressed): lstat says one
    target = tmp_path / "disk"
    block = os.stat_result((stat.S_IFBLK | 0o660, 0, 0, 1, 0, 0, 0, 0, 0, 0))
    monkeypatch.setattr(atomic_io.os, "lstat", lambda p: block)
    monkeypatch.setattr(atomic_io.os, "open", lambda *a, **k: pytest.fail("opened a block device"))
    with pytest.raises(OutputError, match=r"disk: is a block device; allowed: "):
        write_text(target, "x")
    assert not target.exists()


def test_streams_are_refused_where_the_output_is_more_than_one_file(tmp_path):
    fifo = tmp_path / "page.md"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match=r"page\.md: is a named pipe \(FIFO\), and this output must be a file it "
                                          r"can replace whole; allowed: a regular file \(new or existing\) or a "
                                          r"symbolic link to one$"):
        write_all([(tmp_path / "plot.svg", "<svg/>"), (fifo, "# page")])
    assert _listing(tmp_path) == {"page.md"} and fifo.is_fifo()  # checked before any write: no plot either
    real = tmp_path / "mine.md"
    real.write_text("old")
    (tmp_path / "link.md").symlink_to(real)
    write_all([(tmp_path / "link.md", "# new"), (tmp_path / "p.svg", "<svg/>")])
    assert (tmp_path / "link.md").is_symlink() and real.read_text() == "# new"


def test_a_report_folder_file_that_is_a_link_or_stream_is_refused(tmp_path):
    real = tmp_path / "mine.html"
    real.write_text("mine")
    (tmp_path / "explore.html").symlink_to(real)
    with pytest.raises(OutputError, match=r"explore\.html: is a symbolic link, and this file of a report folder is "
                                          r"replaced as inferchip's own; allowed: no file of that name, or a regular"):
        write_report_file(tmp_path / "explore.html", "page")
    assert real.read_text() == "mine" and (tmp_path / "explore.html").is_symlink()


# ---- the path kinds, drawn: whatever the path is, either it is written as its kind says or nothing changes --------

KINDS = ["new", "regular", "link", "dangling", "fifo", "folder", "socket", "loop", "far-dangling", "null"]


def _make(folder: Path, kind: str) -> tuple[Path, Callable[[], None]]:
    """A path of ``kind`` in ``folder`` and a clean-up (a socket's)."""
    p = folder / "out.txt"
    done: Callable[[], None] = lambda: None  # noqa: E731
    if kind == "regular":
        p.write_text("before")
    elif kind == "link":
        (folder / "target.txt").write_text("before")
        p.symlink_to("target.txt")
    elif kind == "dangling":
        p.symlink_to("target.txt")
    elif kind == "far-dangling":
        p.symlink_to("nowhere/target.txt")
    elif kind == "loop":
        p.symlink_to("out.txt")
    elif kind == "fifo":
        os.mkfifo(p)
    elif kind == "folder":
        p.mkdir()
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(p))
        done = sock.close
    elif kind == "null":
        os.mknod(p, 0o666 | stat.S_IFCHR, NULL)
    return p, done


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS if ROOT else KINDS[:-1]), text=st.text(max_size=300), streams=st.booleans())
def test_every_kind_of_path_is_written_as_its_kind_says_or_left_as_it_was(tmp_path, kind, text, streams):
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    p, done = _make(folder, kind)
    before = {n: os.lstat(folder / n).st_mode for n in os.listdir(folder)}
    try:
        with time_limit(20), (reading(p) if kind == "fifo" and streams else _nothing()) as got:
            try:
                write_text(p, text, streams=streams)
                wrote = True
            except OutputError as exc:
                wrote = False
                assert str(exc).startswith(f"cannot write {p}: ") and "; allowed: " in str(exc)
    finally:
        done()
    writable = {"new", "regular", "link", "dangling"} | ({"fifo", "null"} if streams else set())
    assert wrote == (kind in writable)
    after = {n: os.lstat(folder / n).st_mode for n in os.listdir(folder)}
    for name, mode in before.items():  # every node there before is still there, of the same kind
        assert stat.S_IFMT(after[name]) == stat.S_IFMT(mode)
    if kind in ("new", "regular", "link", "dangling"):
        assert p.read_bytes().decode("utf-8") == text
        assert set(after) == set(before) | {"out.txt"} | ({"target.txt"} if kind in ("link", "dangling") else set())
    else:
        assert set(after) == set(before)  # nothing created, no temporary file left
    if kind == "fifo" and streams:
        assert got == [text.encode("utf-8")]


@contextmanager
def _nothing() -> Iterator[list[bytes]]:
    yield []


# ---- the commands' options -------------------------------------------------------------------------------------

def test_check_writable_lets_a_stream_through_whatever_its_name_and_refuses_it_for_the_page(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert check_writable(fifo, "--output", suffixes=YAML_SUFFIXES) == fifo  # a stream's name is no file type
    with pytest.raises(OutputError, match=r"--page .*pipe: is a named pipe \(FIFO\), and this output must be a file"):
        check_writable(fifo, "--page", make_folder=True, suffixes=MARKDOWN_SUFFIXES, streams=False)
    (tmp_path / "f.yaml").mkdir()
    with pytest.raises(OutputError, match=r"--output .*f\.yaml: is a folder; allowed: "):
        check_writable(tmp_path / "f.yaml", "--output", suffixes=YAML_SUFFIXES)
    real = tmp_path / "cal.txt"
    (tmp_path / "std").symlink_to(real)
    with pytest.raises(OutputError, match=r"--output .*std \(a symbolic link to .*cal\.txt\): this option writes YAML"):
        check_writable(tmp_path / "std", "--output", suffixes=YAML_SUFFIXES)
    assert _listing(tmp_path) == {"pipe", "f.yaml", "std"}
    (tmp_path / "docs").mkdir()
    (tmp_path / "page.md").symlink_to("docs/validation.md")  # the page's plots go beside the file it names
    assert check_writable(tmp_path / "page.md", "--page", suffixes=MARKDOWN_SUFFIXES, streams=False) == (
        tmp_path / "docs" / "validation.md").resolve()


CASE = ("case_id,source_kind,source,accelerator,num_accelerators,software,model,weight_dtype,act_dtype,kv_dtype,tp,"
        "pp,ep,scenario,input_tokens,output_tokens,concurrency,metric,value,unit,notes\n"
        "good,synthetic,test,nvidia-h100-sxm-80gb,1,-,meta-llama/Llama-3.1-8B-Instruct,fp8,fp8,fp8,1,1,,fixed_length,"
        "128,512,8,output_tokens_per_s_total,1000,tokens/s,\n")


def test_calibrate_writes_into_a_fifo_and_through_a_link_leaving_both_nodes(tmp_path):
    cases = tmp_path / "one.csv"
    cases.write_text(CASE)
    fifo = tmp_path / "cal-pipe"
    os.mkfifo(fifo)
    with time_limit(120), reading(fifo) as got:
        code, out = run_main(["calibrate", str(cases), "-o", str(fifo), "--no-cv"])
    assert code == 0, out
    assert fifo.is_fifo() and len(got) == 1 and b"memory_utilization_fraction" in got[0], got
    real = tmp_path / "mine.yaml"
    real.write_text("old: 1\n")
    link = tmp_path / "cal.yaml"
    link.symlink_to(real.name)
    code, out = run_main(["calibrate", str(cases), "-o", str(link), "--no-cv"])
    assert code == 0, out
    assert link.is_symlink() and os.readlink(link) == real.name and "memory_utilization_fraction" in real.read_text()
    assert got[0].decode() == real.read_text()  # the same file either way


def test_review_and_explore_refuse_a_link_or_pipe_among_their_files_before_any_work(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    mine = tmp_path / "mine.html"
    mine.write_text("mine")
    (out / "report.html").symlink_to(mine)
    with pytest.raises(InvalidSettingError, match=r"--out .*out: report\.html there is a symbolic link, not a file "
                                                  r"of inferchip's that it may replace; allowed: a folder where "
                                                  r"report\.html, results\.csv, results\.json are absent or regular"):
        prepare_output(out)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []  # no staging folder made
    (out / "report.html").unlink()
    os.mkfifo(out / "explore.html")
    monkeypatch.chdir(tmp_path)
    code, text = run_main(["explore", "space.yaml", "--out", "out"])
    assert code == 2 and "explore.html there is a named pipe (FIFO)" in " ".join(text.split()), text
    assert (out / "explore.html").is_fifo() and mine.read_text() == "mine"
    with pytest.raises(InvalidSettingError, match=r"is a named pipe \(FIFO\), not a folder"):
        check_out_folder(out / "explore.html")
    (tmp_path / "gone").symlink_to("nowhere")
    with pytest.raises(InvalidSettingError, match=r"--out .*gone: a symbolic link to nowhere, which does not exist"):
        check_out_folder(tmp_path / "gone")
    assert not (tmp_path / "nowhere").exists()


def test_review_commit_refuses_a_pipe_made_during_the_run_and_replaces_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("earlier")
    staging = prepare_output(out)
    for name in REPORT_FILES:
        (staging / name).write_text("new " + name)
    os.mkfifo(out / "results.csv")
    with pytest.raises(OutputError, match=r"results\.csv there is a named pipe \(FIFO\)"):
        commit_output(staging, out)
    assert (out / "results.json").read_text() == "earlier" and (out / "results.csv").is_fifo()
    assert not (out / "report.html").exists()


def test_output_target_names_where_the_write_lands(tmp_path, monkeypatch):
    fifo, real, link = tmp_path / "p", tmp_path / "r.txt", tmp_path / "l.txt"
    os.mkfifo(fifo)
    real.write_text("")
    link.symlink_to(real.name)
    assert output_target(fifo, "x") == (fifo, True) and output_target(real, "x") == (real, False)
    new = tmp_path / "new"
    assert output_target(link, "x") == (real, False) and output_target(new, "x") == (new, False)

    def endless(path: object) -> str:
        raise RecursionError  # CPython issue 128098: realpath's loop detection can recurse without end

    monkeypatch.setattr(atomic_io.os.path, "realpath", endless)
    with pytest.raises(OutputError, match=r"^x: a symbolic link that cannot be followed \(too many links\)"):
        output_target(link, "x")
