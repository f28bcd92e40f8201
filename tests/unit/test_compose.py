"""infra/deploy/compose.yaml cannot be run here (no container engine); what it sets beyond
the Cassandra image's own environment must stay what the tested nodes run with."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "-Dcassandra.settings."


def test_the_cassandra_settings_passed_to_the_image_are_the_tested_nodes():
    template = yaml.safe_load((ROOT / "infra/templates/cassandra.yaml").read_text())
    compose = yaml.safe_load((ROOT / "infra/deploy/compose.yaml").read_text())
    options = compose["x-cassandra"]["environment"]["JVM_EXTRA_OPTS"].split()
    assert "-Dcassandra.config.allow_system_properties=true" in options  # else ignored
    passed = dict(o.removeprefix(PREFIX).split("=", 1) for o in options if o.startswith(PREFIX))
    assert passed == {
        name: str(template[name])
        for name in (
            "paxos_variant",
            "unlogged_batch_across_partitions_warn_threshold",
            "batch_size_warn_threshold",
        )
    }
