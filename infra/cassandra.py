"""A single-node Cassandra 5.0 from the cassandra-all artifact (5.0 is the first line that
runs on Java 17). The jar ships no conf/, so the yaml and logback come from infra/templates.
"""

from __future__ import annotations

import logging

from infra.maven import ensure_jars
from infra.process import JavaServer, StackError
from infra.settings import StackSettings
from infra.templates import render

NAME = "cassandra"
MAIN_CLASS = "org.apache.cassandra.service.CassandraDaemon"

# Cassandra's own conf/jvm17-server.options: without them start-up dies on
# IllegalAccessException (sun.nio.ch.DirectBuffer.cleaner).
_JAVA17_EXPORTS = [
    "java.base/jdk.internal.misc",
    "java.management.rmi/com.sun.jmx.remote.internal.rmi",
    "java.rmi/sun.rmi.registry",
    "java.rmi/sun.rmi.server",
    "java.sql/java.sql",
    "java.base/java.lang.ref",
    "jdk.unsupported/sun.misc",
    "jdk.compiler/com.sun.tools.javac.file",
    "jdk.attach/sun.tools.attach",
]
_JAVA17_OPENS = [
    "java.base/java.lang.module",
    "java.base/jdk.internal.loader",
    "java.base/jdk.internal.ref",
    "java.base/jdk.internal.reflect",
    "java.base/jdk.internal.math",
    "java.base/jdk.internal.module",
    "java.base/jdk.internal.util.jar",
    "jdk.management/com.sun.management.internal",
    "java.base/sun.nio.ch",
    "java.base/java.io",
    "java.base/java.lang.reflect",
    "jdk.compiler/com.sun.tools.javac",
    "java.base/java.lang",
    "java.base/java.util",
]


def ports(settings: StackSettings) -> list[int]:
    return [settings.cassandra_port, settings.cassandra_storage_port, settings.cassandra_jmx_port]


def prepare(settings: StackSettings) -> JavaServer:
    ensure_jars(NAME, settings.state_dir / "lib")
    conf = settings.state_dir / "conf" / NAME
    data = settings.data_dir / NAME
    logs = settings.log_dir
    logs.mkdir(parents=True, exist_ok=True)
    yaml = render(
        "cassandra.yaml",
        conf / "cassandra.yaml",
        storage_port=settings.cassandra_storage_port,
        native_port=settings.cassandra_port,
        data_dir=data,
    )
    logback = render("cassandra-logback.xml", conf / "logback.xml", log_dir=logs)
    module_flags = [f"--add-exports={m}=ALL-UNNAMED" for m in _JAVA17_EXPORTS] + [
        f"--add-opens={m}=ALL-UNNAMED" for m in _JAVA17_OPENS
    ]
    return JavaServer(
        name=NAME,
        main_class=MAIN_CLASS,
        state_dir=settings.state_dir,
        jvm_args=[
            f"-Xms{settings.cassandra_heap}",
            f"-Xmx{settings.cassandra_heap}",
            "-XX:+UseG1GC",
            "-Xss512k",
            *module_flags,
            "-Dio.netty.tryReflectionSetAccessible=true",
            "-Djdk.attach.allowAttachSelf=true",
            "-Djava.net.preferIPv4Stack=true",
            "-Dcassandra-foreground=yes",
            f"-Dcassandra.config=file://{yaml}",
            f"-Dcassandra.storagedir={data}",
            f"-Dcassandra.logdir={logs}",
            f"-Dlogback.configurationFile=file://{logback}",
            f"-Dcassandra.jmx.local.port={settings.cassandra_jmx_port}",
            # one node: nothing to gossip with, so do not wait for it to settle
            "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-Dcassandra.superuser_setup_delay_ms=0",
        ],
    )


def probe(settings: StackSettings) -> str:
    """One real CQL query; raises when the node does not answer it."""
    from cassandra.cluster import Cluster, NoHostAvailable

    logging.getLogger("cassandra").setLevel(logging.CRITICAL)  # refusals are expected here
    cluster = Cluster(
        settings.cassandra_host_list,
        port=settings.cassandra_port,
        connect_timeout=3,
        control_connection_timeout=3,
    )
    try:
        session = cluster.connect()
        row = session.execute("SELECT release_version FROM system.local").one()
    except (NoHostAvailable, OSError) as exc:
        raise StackError(f"Cassandra at {settings.cassandra_hosts} does not answer: {exc}") from exc
    finally:
        cluster.shutdown()
        logging.getLogger("cassandra").setLevel(logging.WARNING)
    return f"Cassandra {row.release_version}"
