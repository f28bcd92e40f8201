"""Cassandra 5.0 from the cassandra-all artifact (5.0 is the first line that runs on Java
17): one node, or a cluster of nodes on their own loopback addresses with the same ports.
The jar ships no conf/, so the yaml and logback come from infra/templates.

Every node of a local cluster is a seed: none bootstraps (streams data in) at first start,
and `ocop-stack up` starts them one after another, each once the one before answers CQL.
A node that was down catches up from the hints the others kept for it (up to
`max_hint_window`, 3 h by default) and completely with `ocop-stack repair` (nodetool).
"""

from __future__ import annotations

import logging
import subprocess

from contract.bilingual import bilingual, unreachable
from infra.maven import ensure_jars
from infra.process import JavaServer, StackError, java_binary
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


def _module_flags() -> list[str]:
    return [f"--add-exports={m}=ALL-UNNAMED" for m in _JAVA17_EXPORTS] + [
        f"--add-opens={m}=ALL-UNNAMED" for m in _JAVA17_OPENS
    ]


def ports(settings: StackSettings) -> list[int]:
    return [settings.cassandra_port, settings.cassandra_storage_port, settings.jmx_port]


def yaml_values(settings: StackSettings) -> dict[str, object]:
    """The values of this node's cassandra.yaml (infra/templates/cassandra.yaml)."""
    return {
        "address": settings.address,
        "seeds": ",".join(f"{a}:{settings.cassandra_storage_port}" for a in settings.addresses),
        "storage_port": settings.cassandra_storage_port,
        "native_port": settings.cassandra_port,
        "data_dir": settings.data_dir / settings.node_name(NAME),
        "token_replication": min(settings.replication_factor, settings.nodes),
    }


def node(settings: StackSettings, **launch: list[str]) -> JavaServer:
    """This node's process: its name ("cassandra", "cassandra-2" in a cluster)."""
    return JavaServer(
        name=settings.node_name(NAME),
        main_class=MAIN_CLASS,
        state_dir=settings.state_dir,
        kind=NAME if settings.nodes > 1 else None,
        **launch,
    )


def prepare(settings: StackSettings) -> JavaServer:
    ensure_jars(NAME, settings.state_dir / "lib")
    name = settings.node_name(NAME)
    conf = settings.state_dir / "conf" / name
    values = yaml_values(settings)
    data = values["data_dir"]
    logs = settings.server_log_dir(NAME)
    logs.mkdir(parents=True, exist_ok=True)
    yaml = render("cassandra.yaml", conf / "cassandra.yaml", **values)
    logback = render("cassandra-logback.xml", conf / "logback.xml", log_dir=logs)
    module_flags = _module_flags()
    return node(
        settings,
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
            f"-Dcassandra.jmx.local.port={settings.jmx_port}",
            # one node: nothing to gossip with, so do not wait for it to settle; in a local
            # cluster, the nodes before it are up and answer at once
            "-Dcassandra.skip_wait_for_gossip_to_settle=0",
            "-Dcassandra.superuser_setup_delay_ms=0",
        ],
    )


def probe(settings: StackSettings) -> str:
    """One real CQL query to this node; raises when it does not answer it. In a cluster,
    also how many nodes its ring holds."""
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
    from cassandra.policies import WhiteListRoundRobinPolicy

    logging.getLogger("cassandra").setLevel(logging.CRITICAL)  # refusals are expected here
    only_this_node = ExecutionProfile(
        load_balancing_policy=WhiteListRoundRobinPolicy([settings.address])
    )
    cluster = Cluster(
        [settings.address],
        port=settings.cassandra_port,
        connect_timeout=3,
        control_connection_timeout=3,
        execution_profiles={EXEC_PROFILE_DEFAULT: only_this_node},
    )
    try:
        session = cluster.connect()
        row = session.execute("SELECT release_version FROM system.local").one()
        ring = len(cluster.metadata.all_hosts())
    except (NoHostAvailable, OSError) as exc:
        raise StackError(unreachable("Cassandra", settings.address, exc)) from exc
    finally:
        cluster.shutdown()
        logging.getLogger("cassandra").setLevel(logging.WARNING)
    if settings.nodes == 1:
        return f"Cassandra {row.release_version}"
    return f"Cassandra {row.release_version}, {ring} node(s) in its ring"


def nodetool(settings: StackSettings, *args: str, timeout_s: float = 1800) -> str:
    """Cassandra's nodetool (in the same jars) against this node's JMX port: its output,
    or StackError with what it said."""
    command = [
        java_binary(),
        "-Xmx128m",
        *_module_flags(),  # nodetool loads the same classes as the server
        f"-Dlogback.configurationFile=file://{settings.state_dir}/conf/{node(settings).name}/logback.xml",
        "-cp",
        f"{settings.state_dir}/lib/{NAME}/*",
        "org.apache.cassandra.tools.NodeTool",
        "-h",
        "127.0.0.1",
        "-p",
        str(settings.jmx_port),
        *args,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise StackError(
            bilingual(
                f"nodetool {' '.join(args)} chưa xong sau {timeout_s:.0f} s",
                f"nodetool {' '.join(args)} did not finish in {timeout_s:.0f} s",
            )
        ) from exc
    if done.returncode != 0:
        said = bilingual(f"nodetool {' '.join(args)} thất bại", f"nodetool {' '.join(args)} failed")
        raise StackError(f"{said}:\n{(done.stdout + done.stderr)[-2000:]}")
    return done.stdout
