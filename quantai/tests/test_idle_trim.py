"""The web worker gives freed memory back once idle (quantai.idle_trim), and never while a request is in flight."""

from __future__ import annotations

import threading
import time

import pytest

from quantai import wsgi
from quantai.idle_trim import IdleTrim, glibc_malloc_trim

IDLE = 0.05


def _wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Recorder:
    """A trim that records when it ran and whether a request was in flight then."""

    def __init__(self) -> None:
        self.calls = 0
        self.during_request = 0
        self.in_request = threading.Event()

    def __call__(self) -> None:
        self.calls += 1
        self.during_request += int(self.in_request.is_set())


def _app(recorder: Recorder, release: threading.Event | None = None):
    def app(environ, start_response):
        recorder.in_request.set()
        try:
            if release is not None:
                release.wait(5)
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]
        finally:
            recorder.in_request.clear()

    return app


def _request(app) -> list[bytes]:
    return list(app({"PATH_INFO": "/"}, lambda status, headers: None))


def test_an_idle_worker_trims_once_after_serving():
    recorder = Recorder()
    app = IdleTrim(_app(recorder), trim=recorder, idle_seconds=IDLE)
    assert _request(app) == [b"ok"]
    assert _wait_for(lambda: recorder.calls == 1)
    time.sleep(IDLE * 4)
    assert recorder.calls == 1  # one trim per idle spell, not one per tick


def test_nothing_is_trimmed_before_the_first_request_or_while_one_is_in_flight():
    recorder = Recorder()
    release = threading.Event()
    app = IdleTrim(_app(recorder, release), trim=recorder, idle_seconds=IDLE)
    time.sleep(IDLE * 3)
    assert recorder.calls == 0
    slow = threading.Thread(target=_request, args=(app,))
    slow.start()
    assert _wait_for(recorder.in_request.is_set)
    _request(IdleTrim(_app(Recorder()), trim=None))  # a pass-through app never trims or starts a thread
    time.sleep(IDLE * 4)
    assert recorder.calls == 0  # the slow request holds it off however long it takes
    release.set()
    slow.join(5)
    assert _wait_for(lambda: recorder.calls == 1)
    assert recorder.during_request == 0


def test_a_new_idle_spell_trims_again():
    recorder = Recorder()
    app = IdleTrim(_app(recorder), trim=recorder, idle_seconds=IDLE)
    _request(app)
    assert _wait_for(lambda: recorder.calls == 1)
    _request(app)
    assert _wait_for(lambda: recorder.calls == 2)


def test_a_failing_trim_is_logged_and_the_worker_keeps_serving(caplog):
    def broken() -> None:
        raise OSError("no")

    app = IdleTrim(_app(Recorder()), trim=broken, idle_seconds=IDLE)
    _request(app)
    assert _wait_for(lambda: app.trims == 1)
    assert "malloc_trim failed" in caplog.text
    assert _request(app) == [b"ok"]


def test_the_wsgi_application_is_wrapped_with_the_c_librarys_trim():
    assert isinstance(wsgi.application, IdleTrim)
    trim = glibc_malloc_trim()
    if trim is None:
        pytest.skip("this C library has no malloc_trim")
    assert wsgi.application.trim is not None
    assert trim() in (0, 1)  # glibc: 1 when memory was released, 0 when there was none to release
