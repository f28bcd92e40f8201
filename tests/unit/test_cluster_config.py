"""The stack's settings and configuration files for one node and for a cluster of three."""

from __future__ import annotations

from pathlib import Path

from infra import cassandra, kafka, stack
from infra.process import JavaServer
from infra.settings import StackSettings
from infra.templates import render


def cluster(tmp_path: Path) -> StackSettings:
    return StackSettings(
        state_dir=tmp_path, nodes=3, first_address="127.0.1.1", cassandra_jmx_port=7300
    )


def test_one_node_keeps_its_addresses_names_and_replication():
    single = StackSettings(_env_file=None)
    assert (single.kafka_bootstrap, single.cassandra_hosts) == ("127.0.0.1:9092", "127.0.0.1")
    assert (single.replication_factor, single.min_insync_replicas) == (1, 1)
    assert single.node_name("kafka") == "kafka"
    assert single.server_log_dir("kafka") == single.log_dir
    assert kafka.node(single).kind is None


def test_three_nodes_derive_client_lists_and_replication(tmp_path):
    three = cluster(tmp_path)
    assert three.addresses == ["127.0.1.1", "127.0.1.2", "127.0.1.3"]
    assert three.kafka_bootstrap == "127.0.1.1:9092,127.0.1.2:9092,127.0.1.3:9092"
    assert three.cassandra_hosts == "127.0.1.1,127.0.1.2,127.0.1.3"
    assert (three.replication_factor, three.min_insync_replicas) == (3, 2)
    assert three.cassandra_consistency == "LOCAL_QUORUM"
    second = three.for_node(1)
    assert (second.address, second.jmx_port, second.node_name("cassandra")) == (
        "127.0.1.2", 7301, "cassandra-2",
    )  # fmt: skip


def test_what_is_set_explicitly_wins_over_what_nodes_imply(tmp_path):
    three = StackSettings(
        state_dir=tmp_path, nodes=3, kafka_bootstrap="k:9092", replication_factor=2
    )
    assert (three.kafka_bootstrap, three.replication_factor, three.min_insync_replicas) == (
        "k:9092", 2, 1,
    )  # fmt: skip
    assert three.cassandra_hosts == "127.0.0.1,127.0.0.2,127.0.0.3"


def test_kafka_nodes_are_a_controller_quorum_of_three(tmp_path):
    node = cluster(tmp_path).for_node(2)
    values = kafka.server_values(node)
    properties = render("kafka-server.properties", tmp_path / "p", **values).read_text()
    assert "node.id=3\n" in properties
    voters = "1@127.0.1.1:9093,2@127.0.1.2:9093,3@127.0.1.3:9093"
    assert f"controller.quorum.voters={voters}\n" in properties
    assert "listeners=PLAINTEXT://127.0.1.3:9092,CONTROLLER://127.0.1.3:9093\n" in properties
    assert "advertised.listeners=PLAINTEXT://127.0.1.3:9092\n" in properties
    for line in (
        "default.replication.factor=3",
        "min.insync.replicas=2",
        "offsets.topic.replication.factor=3",
        "transaction.state.log.min.isr=2",
    ):
        assert line + "\n" in properties
    assert values["data_dir"] == tmp_path / "data" / "kafka-3"


def test_one_cluster_id_for_every_node(tmp_path):
    path = tmp_path / "data" / "kafka-cluster-id"
    made = kafka.shared_cluster_id(path)
    assert len(made) == 22
    assert not made.startswith("-")
    assert kafka.shared_cluster_id(path) == made


def test_cassandra_nodes_are_all_seeds_on_their_own_address(tmp_path):
    node = cluster(tmp_path).for_node(1)
    yaml = render("cassandra.yaml", tmp_path / "c.yaml", **cassandra.yaml_values(node))
    text = yaml.read_text()
    assert 'seeds: "127.0.1.1:7000,127.0.1.2:7000,127.0.1.3:7000"' in text
    assert "listen_address: 127.0.1.2\n" in text
    assert "rpc_address: 127.0.1.2\n" in text
    assert "allocate_tokens_for_local_replication_factor: 3\n" in text
    assert cassandra.ports(node) == [9042, 7000, 7301]


def test_single_node_files_render_as_before(tmp_path):
    single = StackSettings(state_dir=tmp_path)
    properties = render("kafka-server.properties", tmp_path / "p", **kafka.server_values(single))
    text = properties.read_text()
    assert "node.id=1\ncontroller.quorum.voters=1@127.0.0.1:9093\n" in text
    assert "min.insync.replicas=1\n" in text
    yaml = render("cassandra.yaml", tmp_path / "c", **cassandra.yaml_values(single)).read_text()
    assert 'seeds: "127.0.0.1:7000"' in yaml
    assert "listen_address: 127.0.0.1\n" in yaml
    assert "allocate_tokens_for_local_replication_factor: 1\n" in yaml


def test_a_node_process_is_told_apart_from_its_siblings(tmp_path):
    three = cluster(tmp_path)
    first, second = (stack.node_process("kafka", three, k) for k in (0, 1))
    assert (first.name, second.name, first.lib_dir) == (
        "kafka-1",
        "kafka-2",
        tmp_path / "lib" / "kafka",
    )
    command = " ".join(JavaServer("kafka-1", "kafka.Kafka", tmp_path, kind="kafka").command()) + " "
    assert first.identifies(command, "")
    assert not second.identifies(command, "")
    single = JavaServer("kafka", "kafka.Kafka", tmp_path)
    assert "-Docop.node" not in " ".join(single.command())


def test_a_server_is_recognised_through_a_symlinked_state_folder(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    command = " ".join(JavaServer("kafka", "kafka.Kafka", real).command()) + " "
    assert JavaServer("kafka", "kafka.Kafka", tmp_path / "link").identifies(command, "")
    assert not JavaServer("kafka", "kafka.Kafka", tmp_path).identifies(command, "")


def test_a_server_started_through_a_symlinked_state_folder_is_recognised_by_the_real_one(
    tmp_path,
):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    command = " ".join(JavaServer("kafka", "kafka.Kafka", tmp_path / "link").command()) + " "
    assert JavaServer("kafka", "kafka.Kafka", real).identifies(command, "")
    assert not JavaServer("kafka", "kafka.Kafka", tmp_path).identifies(command, "")
    assert not JavaServer("cassandra", "CassandraDaemon", real).identifies(command, "")
