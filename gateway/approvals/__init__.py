"""Proposals a human approves: the durable store, the Matrix room, the desk that decides and
applies, and the operator's ``labgate approvals`` commands. See docs/approvals.md."""
