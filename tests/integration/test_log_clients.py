"""The audit log's clients on the real stack (issue 21): the offline verifier with a unit's
proof from the log's routes, the signed status list the real `ocop-log` issues (served with
an ETag), and the station's key watch, which alerts on a record signed with the producer's
key that the station did not send, and not on its own. The routes run in process over ASGI,
as in test_audit_log, over the real Cassandra the worker and the writer fill."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import httpx
from fastapi import FastAPI

from auditlog.status import StatusTables
from contract.encoding import sha256_hex
from keys import certs
from keys.status import open_status_list
from keys.trustlist import TrustList, build_trust_list
from keys.verifier import LogStatus, check_log_proof
from producers.watch import KeyWatch
from records.store import RecordReader
from tests.integration.pipeline import batch_id, opened, packed
from tests.integration.test_audit_log import audit_log, call
from tests.world import LOT, NOW, PRODUCT
from verify_api.routes import batches as batch_routes
from verify_api.routes import status as status_routes


def test_offline_proof_status_list_and_key_watch(stack_settings, tmp_path):
    with audit_log(stack_settings, tmp_path) as log:
        p = log.pipeline
        log.env["OCOP_LOG_STATUS_INTERVAL_S"] = "1"
        log.start_writer()
        p.start_worker()
        p.publish_authority_setup()
        ours = packed(p.world, 5, LOT)
        sent = [  # what the station's outbox holds: the events it issued
            p.send_signed("batch", p.world.producer, opened(LOT)),
            p.send_signed("batch", p.world.producer, ours),
        ]
        p.flush()
        p.wait_for_head(batch_id(LOT), 2)
        log.wait_for_size(4)  # the trust list, the certification, two chain records

        app: FastAPI = log.app()
        app.include_router(status_routes.router)
        app.include_router(batch_routes.router)
        app.state.services = SimpleNamespace(store=RecordReader(p.session))
        app.state.status_tables = StatusTables(p.session, log.origin)
        witness = log.witness(tmp_path)
        call(app, witness.round)
        log_key = log.verifier()
        trust = TrustList.load(
            build_trust_list(
                p.world.root,
                version=9,
                authorities=p.world.authorities,
                producer_keys=p.world.producer_keys,
                certifications=p.world.certifications,
                log_keys=[certs.certify_log_key(p.world.root, log_key, now=NOW)],
                witnesses=[
                    certs.certify_witness(
                        p.world.root, log.witness_signer.verifier(), operator="Sở KHCN", now=NOW
                    )
                ],
                witness_quorum=1,
            ),
            root_public_key=p.world.root.public_key,
        )

        # 1. The offline verifier, with the unit's proof as the API serves it.
        serial = ours.serials[0]
        label = p.world.label(serial=serial)

        async def proof(client: httpx.AsyncClient) -> str:
            response = await client.get(f"/log/proof/unit{PRODUCT}/21/{serial}")
            assert response.status_code == 200, response.text
            return response.text

        check = check_log_proof(call(app, proof), trust=trust, label=label)
        assert check.status is LogStatus.RECORDED, check.detail
        assert check.sentence().startswith("recorded in the public log at position ")
        assert check.witnessed_by == ("w1.it.example",)

        # 2. The status list the writer issued, with its ETag.
        async def status(client: httpx.AsyncClient):
            deadline = time.monotonic() + 60
            while (first := await client.get("/.well-known/ocop-status-list")).status_code == 404:
                assert time.monotonic() < deadline, "no status list was issued"
                await asyncio.sleep(0.5)
            again = await client.get(
                "/.well-known/ocop-status-list", headers={"If-None-Match": first.headers["etag"]}
            )
            return first, again

        first, again = call(app, status)
        assert first.status_code == 200
        assert again.status_code == 304
        held = open_status_list(first.text, [log_key])
        product = held.product(PRODUCT)
        assert product is not None
        assert product.stars == 4

        # 3. The key watch: the station's own record raises nothing ...
        watch = KeyWatch(p.world.producer.key_id, {PRODUCT}, (log_key,), "http://log.test")
        own = {sha256_hex(data) for data in sent}

        async def round_(client: httpx.AsyncClient):
            return await watch.round(client, own)

        assert call(app, round_) == []
        # ... a label signed with its key outside the station raises the alert within seconds.
        thief = packed(p.world, 3, LOT)
        started = time.monotonic()
        p.send_signed("batch", p.world.producer, thief)
        p.flush()
        p.wait_for_head(batch_id(LOT), 3)
        log.wait_for_size(5)
        findings = call(app, round_)
        assert [f.serials for f in findings] == [thief.serials]
        assert time.monotonic() - started < 30
