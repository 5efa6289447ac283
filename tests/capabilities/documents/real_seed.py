"""The state of the local real paperless-ngx of ``REAL.md`` (section 6), built in the fake.

The recordings of ``recordings/real-local/2.20.15/`` were taken from a real 2.20.15 seeded
this way: two ``finance`` tags (unowned; alice's with a view grant to hermes), a
``Medical``/``medical`` case pair, alice's ``private`` tag, a note-only word (``zucchini``) and
a custom-field-only value (``REF-002``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .fake_paperless import FakePaperless, serve

__all__ = ["Seeded", "seeded"]


@dataclass
class Seeded:
    fake: FakePaperless
    url: str
    tags: dict[str, int]
    docs: dict[str, int]


def build(version: str) -> tuple[FakePaperless, dict[str, int], dict[str, int]]:
    fake = FakePaperless.empty(version)
    admin, alice, hermes = (fake.user_id(n) for n in ("admin", "alice", "hermes"))
    tags = {
        "agent-visible": fake.add_object("tags", "agent-visible"),
        "finance": fake.add_object("tags", "finance"),
        "finance@alice": fake.add_object("tags", "finance", alice, (hermes,)),
        "medical": fake.add_object("tags", "medical", alice, (hermes,)),
        "Medical": fake.add_object("tags", "Medical"),
        "private": fake.add_object("tags", "private", alice),
    }
    rows = [
        ("Garden plan", "Plant beans in May.", "2025-04-01", ["agent-visible"], None, False),
        ("Bank statement March", "Balance and fees.", "2025-03-31",
         ["agent-visible", "finance"], admin, True),
        ("Mortgage offer", "Rate and term.", "2025-05-02",
         ["agent-visible", "finance@alice"], alice, True),
        ("Lab results", "Blood values.", "2025-02-10", ["agent-visible", "medical"], alice, True),
        ("Clinic letter", "Appointment moved.", "2025-02-11",
         ["agent-visible", "Medical"], None, False),
        ("Diary", "Private thoughts.", "2025-01-05", ["private"], alice, False),
        ("Network runbook", "Router reboot steps.", "2025-06-06",
         ["agent-visible"], admin, True),
        ("Untagged receipt", "Receipt for a lamp.", "2025-06-07", [], None, False),
    ]  # fmt: skip
    notes = {
        "Lab results": ["ask about zucchini diet"],
        "Network runbook": ["spare key in blue drawer"],
    }
    fields = {"Bank statement March": [("Reference", "REF-001")],
              "Network runbook": [("Reference", "REF-002")]}  # fmt: skip
    docs = {
        title: fake.add_document(
            title,
            content,
            created,
            tags=[tags[t] for t in names],
            owner=owner,
            viewers=(hermes,) if grant else (),
            notes=notes.get(title),
            custom_fields=fields.get(title),
        )
        for title, content, created, names, owner, grant in rows
    }
    return fake, tags, docs


@contextmanager
def seeded(version: str) -> Iterator[Seeded]:
    fake, tags, docs = build(version)
    with serve(fake) as url:
        yield Seeded(fake, url, tags, docs)
