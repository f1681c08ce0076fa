"""How the client reads GPULab's answers: the UUID of a submission, and one-line error summaries."""

from __future__ import annotations

import pytest

from gpulab_apply.gpulab.answers import summarize, uuid_from_answer

UUID = "0ae7f528-ac52-4362-8d2f-ab6756977a1c"


@pytest.mark.parametrize(
    "body",
    [UUID, f"{UUID}\n", f"  {UUID}  \r\n", f'"{UUID}"', f"'{UUID}'\n", f'"{UUID}"\n', f'{{"uuid": "{UUID}"}}',
     UUID.upper()],
)
def test_uuid_from_a_submit_answer(body: str) -> None:
    assert (uuid_from_answer(body) or "").lower() == UUID


@pytest.mark.parametrize("body", ["", "OK", "<html>created</html>", '{"status": "ok"}', "[1]", UUID[:-1], "{"])
def test_answers_without_a_uuid(body: str) -> None:
    assert uuid_from_answer(body) is None


@pytest.mark.parametrize(
    ("text", "content_type", "summary"),
    [
        ('{"message": "Job name missing"}', "application/json", "Job name missing"),
        ('{"error": {"message": "Unknown project", "code": 12}}', "application/json", "Unknown project"),
        ('{"detail": [{"loc": ["body", "name"], "msg": "field required"}, {"msg": "bad image"}]}', "application/json",
         "field required; bad image"),
        ('{"detail": [{"msg": "a"}, {"msg": "b"}, {"msg": "c"}, {"msg": "d"}, {"msg": "e"}]}', "", "a; b; c (+2 more)"),
        ('"quoted text"', "application/json", "quoted text"),
        ('{"unexpected": true}', "application/json", '{"unexpected": true}'),
        ("<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502</h1>\n</body></html>",
         "text/html", "502 Bad Gateway"),
        ("<html><body><h1>Service\n  Unavailable</h1><p>Try later</p></body></html>", "text/html",
         "Service Unavailable"),
        ("<html><head><style>p {}</style><script>x()</script></head><body><p>Maintenance until <b>noon</b></p></body></html>",
         "text/html; charset=utf-8", "Maintenance until noon"),
        ("Traceback (most recent call last):\n  File x\nValueError: bad\n", "text/plain",
         "Traceback (most recent call last): File x ValueError: bad"),
        ("", "text/plain", ""),
    ],
)
def test_error_bodies_become_one_line(text: str, content_type: str, summary: str) -> None:
    assert summarize(text, content_type=content_type) == summary


def test_long_bodies_are_cut() -> None:
    summary = summarize("word " * 500, limit=50)
    assert len(summary) == 50
    assert summary.endswith("…")
