"""Registry searches per second and latency of the verify API, against a bare FastAPI route that
does one Cassandra read, in the same server under the same load, in the same run.

- The registry: `--products` products (5,000 by default) of `--products / 3` producers spread
  over every province, written through the processors' own path without Kafka: the records'
  writes (producers, products, certifications, revocations: records.store.RecordWriter),
  then stream_processors.registry.RegistryUpdates.product_changed for each product, which is
  what the authority processor calls. Names are built from OCOP products' words, so a word
  search matches from a handful of products to a few hundred; a quarter of the products have
  a GTIN; ratings are spread over 2-5 stars and over the last four years (some expired, some
  revoked, some never certified).
- The server and the load are bench_api.py's (imported, not copied): its server (the real
  app plus the bare route `/bare/{serial}` reading a packed unit's row with one prepared
  statement), its wrk runs (1 thread, 50 connections, 10 s, latency from wrk's --latency),
  its server CPU per request.
- Kinds, JSON (an app or an inspector's scanner), round after round in turn:
  `bare`: the baseline; `words`: `?q=` two or three words, diacritics off; `filters`:
  `?province=&status=in_force&stars=`; `barcode`: `?gtin=` an EAN-13; `product`: a product's
  page (its registry row and its certifications, read together, the rating and the logo
  worked out).

    .venv/bin/python bench/bench_registry.py [--products 5000] [--rounds 3] [--duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.integration

from bench_api import LUA, WRK_CONNECTIONS, Run, start_server, wrk

from infra import stack
from infra.settings import StackSettings

FOODS = [
    "Mắm cáy", "Bánh cáy", "Bánh đa sợi", "Gạo thơm", "Chè búp", "Mật ong hoa nhãn",
    "Nước mắm", "Rượu nếp cái", "Miến dong", "Giò lụa", "Tương bần", "Cà phê rang xay",
    "Hồ tiêu", "Nón lá", "Chiếu cói", "Mây tre đan", "Gốm men lam", "Trà hoa vàng",
    "Bưởi da xanh", "Nhãn lồng", "Vải thiều", "Cam sành", "Dầu lạc", "Đậu phụ",
]  # fmt: skip
PLACES = [
    "Hồng Tiến", "Quỳnh Phụ", "Đông Hưng", "Thăng Bình", "Tiền Hải", "Kiến Xương",
    "Vũ Thư", "Hưng Hà", "Bình Triều", "Cửa Hội", "Tam Kỳ", "Đại Lộc", "Mộc Châu",
    "Tân Cương", "Lục Ngạn", "Đồng Văn", "Sa Pa", "Bến Tre", "Cao Phong", "Phú Quốc",
]  # fmt: skip
PROVINCES = [
    "Thái Bình", "Hưng Yên", "Quảng Nam", "Đà Nẵng", "Hà Nội", "Nghệ An", "Thanh Hóa",
    "Hà Giang", "Lào Cai", "Yên Bái", "Bắc Giang", "Sơn La", "Hòa Bình", "Nam Định",
    "Hà Nam", "Ninh Bình", "Quảng Ngãi", "Bình Định", "Lâm Đồng", "Bến Tre", "Cần Thơ",
    "Sóc Trăng", "An Giang", "Kiên Giang", "Cà Mau", "Bạc Liêu", "Long An", "Tây Ninh",
    "Đồng Nai", "Bình Dương", "Gia Lai", "Kon Tum", "Đắk Lắk", "Phú Yên",
]  # fmt: skip
GROUPS = ["food", "food", "food", "drinks", "herbal", "handicrafts"]


def gtin_for(i: int) -> str:
    from contract.gs1 import check_digit

    body = f"0893{i:09d}"
    return body + str(check_digit(body))


async def load_registry(session: Any, world: Any, count: int) -> dict[str, list[str]]:
    """Producers, products, certifications and revocations stored as the processors store
    them, then each product's registry row written by the processors' registry updater.
    Returns what the load's URLs are built from."""
    from contract.certification import ProductGroup, level_for_stars
    from contract.events import ProducerKind, ProducerRegistered, ProductRegistered
    from keys import certs
    from records.store import RecordWriter
    from stream_processors.registry import RegistryUpdates

    rng = random.Random(18)
    store = RecordWriter(session)
    updates = RegistryUpdates(store)
    now = datetime.now(UTC)
    gate = asyncio.Semaphore(64)
    producers = max(1, count // 3)
    found: dict[str, list[str]] = {"words": [], "filters": [], "barcode": [], "product": []}

    async def producer(p: int) -> None:
        province = PROVINCES[p % len(PROVINCES)]
        event = ProducerRegistered(
            event_id=uuid.uuid4(), occurred_at=now - timedelta(days=900), authority_id="VN-34",
            producer_id=f"BR-P{p:05d}", name=f"HTX {PLACES[p % len(PLACES)]} {p}",
            kind=list(ProducerKind)[p % 4], address=f"Thôn {p}",
            commune=f"Xã {PLACES[(p * 7) % len(PLACES)]}", district="Huyện Một",
            province=province,
        )  # fmt: skip
        async with gate:
            await store.register_producer(event)

    async def product(i: int) -> None:
        food, place = FOODS[i % len(FOODS)], PLACES[(i // len(FOODS)) % len(PLACES)]
        key = f"/01/{gtin_for(i)}" if i % 4 == 0 else f"/p/BR-{i:05d}"
        producer_id = f"BR-P{i % producers:05d}"
        group = ProductGroup(GROUPS[i % len(GROUPS)])
        registration = ProductRegistered(
            event_id=uuid.uuid4(), occurred_at=now - timedelta(days=800), authority_id="VN-34",
            product_key=key, producer_id=producer_id, name=f"{food} {place}",
            product_group=group,
        )  # fmt: skip
        awards = []
        if i % 10 != 9:  # one in ten never certified
            stars = rng.choice([2, 3, 3, 4, 4, 5])
            score = {2: "45", 3: "60", 4: "78", 5: "92"}[stars]
            start = now - timedelta(days=rng.randrange(10, 1400))
            signer = world.national if stars == 5 else world.provincial
            award = certs.certify_product(
                signer, authority_id="VN-NATIONAL" if stars == 5 else "VN-34",
                certificate_no=f"{i}/GCN-UBND", decision_no=f"{i}/QĐ-UBND",
                product_key=key, product_name=registration.name, product_group=group,
                producer_id=producer_id, stars=stars, score=Decimal(score),
                valid_from=start, now=start,
            )  # fmt: skip
            awards.append(award)
            assert awards[0].body.evaluation_level is level_for_stars(stars)
        async with gate:
            await store.register_product(registration)
            for award in awards:
                await store.store_certification(award)
            if awards and i % 20 == 3:  # one in twenty revoked
                revocation = certs.revoke_certification(
                    world.provincial if awards[0].body.stars < 5 else world.national,
                    awards[0].body, decision_no="47/QĐ-UBND", reason="không duy trì chất lượng",
                    effective_at=now - timedelta(days=5), now=now - timedelta(days=5),
                )  # fmt: skip
                await store.store_revocation(revocation)
            await updates.product_changed(key)
        words = f"{food} {place}" if i % 3 == 0 else food
        found["words"].append(urlencode({"q": _plain(words)}))
        province = PROVINCES[(i % producers) % len(PROVINCES)]
        found["filters"].append(
            urlencode({"province": province, "status": "in_force", "stars": str(3 + i % 3)})
        )
        if i % 4 == 0:
            found["barcode"].append(urlencode({"gtin": gtin_for(i).lstrip("0")}))
        found["product"].append(key)

    await asyncio.gather(*(producer(p) for p in range(producers)))
    await asyncio.gather(*(product(i) for i in range(count)))
    return found


def _plain(text: str) -> str:
    """As a person types it on a phone: no diacritics, lower case."""
    from contract.search import fold

    return fold(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--units", type=int, default=500, help="units for the bare route")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()

    from tests.integration.pipeline import Pipeline, free_port
    from tests.integration.test_api_stack import SALT, Storefront
    from tests.world import PRODUCT, World

    settings = StackSettings()
    stack.up(settings)
    with tempfile.TemporaryDirectory(prefix="ocop-bench-registry-") as tmp:
        folder = Path(tmp)
        world = World()
        pipeline = Pipeline(settings, folder, world)
        server = None
        try:
            pipeline.start_worker()
            storefront = Storefront(pipeline)
            labels = storefront.pack(PRODUCT, "L2512BENCH", args.units)
            pipeline.stop_worker()  # the units are stored; the worker would only compete
            started = time.monotonic()
            found = asyncio.run(load_registry(pipeline.session, world, args.products))
            print(f"registry: {args.products} products written in "
                  f"{time.monotonic() - started:.1f} s")  # fmt: skip
            port = free_port()
            env = pipeline.env | {
                "OCOP_RESOLVER_HOST": "ocop.vn", "OCOP_DEVICE_SALT": SALT,
                "OCOP_RATE_LIMIT_PER_S": "1000000", "OCOP_RATE_LIMIT_BURST": "1000000",
            }  # fmt: skip
            server = start_server(env, port, folder / "server.log", 1, None)
            rng = random.Random(7)
            files = {
                "bare": [f"/bare/{label.serial}" for label in labels],
                "words": [f"/registry/products?{q}" for q in found["words"]],
                "filters": [f"/registry/products?{q}" for q in found["filters"]],
                "barcode": [f"/registry/products?{q}" for q in found["barcode"]],
                "product": [f"/registry/products{key}" for key in found["product"]],
            }
            for kind, paths in files.items():
                rng.shuffle(paths)
                (folder / f"{kind}.txt").write_text("\n".join(paths[:2000]) + "\n")
            (folder / "paths.lua").write_text(LUA)
            base = f"http://127.0.0.1:{port}"
            runs = measure(base, folder, files, server.pid, args)
            matches = asyncio.run(result_sizes(base, files))
        finally:
            if server is not None and server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=30)
            pipeline.close()
    report(runs, matches, args)


JSON = {"Accept": "application/json"}


def measure(
    base: str, folder: Path, files: dict[str, list[str]], pid: int, args: argparse.Namespace
) -> dict[str, list[Run]]:
    script = folder / "paths.lua"
    for kind in files:  # warm up: prepared statements, caches, Cassandra's read path
        wrk(base, folder / f"{kind}.txt", script, JSON, 3, pid)
    runs: dict[str, list[Run]] = {kind: [] for kind in files}
    for round_ in range(args.rounds):
        for kind in files:
            last = wrk(base, folder / f"{kind}.txt", script, JSON, args.duration, pid)
            runs[kind].append(last)
            print(
                f"round {round_ + 1} {kind:8s} {last.rate:7.0f} req/s  p50 {last.p50_ms:6.1f} ms"
                f"  p99 {last.p99_ms:6.1f} ms  server CPU {last.cpu_ms:5.2f} ms/request  "
                f"errors {last.errors}"
            )
    return runs


async def result_sizes(base: str, files: dict[str, list[str]]) -> dict[str, float]:
    """How many products a search of each kind finds on its first page (median of 50)."""
    import httpx

    sizes: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=base, headers=JSON, timeout=10) as http:
        for kind in ("words", "filters", "barcode"):
            counts = [
                (await http.get(path)).json()["count"] for path in files[kind][:50]
            ]  # fmt: skip
            sizes[kind] = statistics.median(counts)
    return sizes


def report(runs: dict[str, list[Run]], matches: dict[str, float], args: argparse.Namespace) -> None:
    bare = statistics.median(r.rate for r in runs["bare"])
    labels = {
        "bare": "bare route, one Cassandra read (baseline)",
        "words": "search ?q= words, no diacritics",
        "filters": "search ?province=&status=in_force&stars=",
        "barcode": "search ?gtin= EAN-13",
        "product": "product page, JSON",
    }
    print(
        f"\n{args.products} products; wrk -t1 -c{WRK_CONNECTIONS}, {args.duration} s runs, "
        f"medians of {args.rounds} rounds"
    )
    for kind, label in labels.items():
        rate = statistics.median(r.rate for r in runs[kind])
        p50 = statistics.median(r.p50_ms for r in runs[kind])
        p99 = statistics.median(r.p99_ms for r in runs[kind])
        cpu = statistics.median(r.cpu_ms for r in runs[kind])
        errors = sum(r.errors for r in runs[kind])
        ratio = "" if kind == "bare" else f"  {rate / bare:4.0%} of bare"
        size = f"  (first page: median {matches[kind]:g} products)" if kind in matches else ""
        print(
            f"{label:44s} {rate:6.0f} req/s  p50 {p50:5.1f} ms  p99 {p99:6.1f} ms  server CPU "
            f"{cpu:4.2f} ms/req  errors {errors}{ratio}{size}"
        )


if __name__ == "__main__":
    main()
