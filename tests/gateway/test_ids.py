"""Request and event ids from the pooled CSPRNG: well-formed, distinct, never repeated by a fork."""

from __future__ import annotations

import os
import re

from gateway.ids import token_hex16


def test_ids_are_128_bits_of_hex_and_distinct() -> None:
    ids = [token_hex16() for _ in range(5000)]  # more than one 4 KiB pool
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    token_hex16()  # the pool is filled: a child that kept it would hand out the same next id
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then out without running pytest's teardown
        try:
            os.write(write, token_hex16().encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    assert re.fullmatch(r"[0-9a-f]{32}", child)
    assert child != token_hex16()
