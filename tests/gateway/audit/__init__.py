"""Tests of gateway/audit: journal, chain, shipper, migrations, verify and tail."""
