"""The producers' side of the story: each producer's packing station opens a batch, prints
its labels (an A4 PDF sheet, each label signing its expiry date), scans every label as it is
packed, closes, ships to the distributor and records its receipt (both by GLN). Events
reach Kafka through each station's outbox."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from contract.events import RawMaterial, Unit
from contract.label import vietnam_date
from demo.authority import Office, product_key_of
from demo.cast import Product
from demo.parties import DISTRIBUTOR
from demo.settings import DemoSettings
from producers.identity import load_identity
from producers.printing import Format, render_labels
from producers.sender import Sender
from producers.settings import StationSettings
from producers.station import Station

Advance = Callable[[int], None]


@dataclass(frozen=True)
class PackedBatch:
    product: Product
    batch_id: str
    urls: tuple[str, ...]
    pdf: Path | None
    qr_version: str


def station_settings(settings: DemoSettings, office: Office, product: Product) -> StationSettings:
    return StationSettings(
        station_id=f"station-{product.code.lower()}",
        state_dir=settings.folder,
        keystore_dir=office.keystore,
        station_key=office.producers[product.producer].key_id,
        trust_list=office.trust_list_file,
        root_key=str(office.root_key_file),
        resolver_host=settings.resolver_host,
        kafka_bootstrap=settings.kafka_bootstrap,
        batch_topic=settings.batch_topic,
        pack_event_units=100,
    )


def pack(settings: DemoSettings, office: Office, product: Product, advance: Advance) -> PackedBatch:
    """One batch of `product` from opening to the shop; returns its labels' URLs."""
    config = station_settings(settings, office, product)
    station = Station(config, load_identity(config, office.passphrase))
    sender = Sender(config)
    sender.start()
    try:
        today = vietnam_date(office.issued_at)
        lot = f"{product.code[:6]}{secrets.token_hex(2).upper()}"  # new every run
        batch = station.open_batch(
            product_key=product_key_of(product),
            lot=lot,
            production_date=today,
            expiry_date=today + timedelta(days=365),
            raw_materials=[_material(product)],
            planned_units=product.units,
        )
        run = station.print_labels(batch.batch_id, product.units)
        rendered = render_labels(
            run.labels,
            run.content,
            settings.folder / "labels" / f"{product.code.lower()}-{lot}",
            formats=(Format.PDF,),
            workers=1,
        )
        for label in run.labels:  # the scanner at the packing table, one code per line
            station.scan(batch.batch_id, label.url)
            advance(1)
        station.close_batch(batch.batch_id)
        # one step forward from the producer's site, one step back for the distributor
        # (Circular 02/2024): both named by GLN (demo.parties)
        shipment = station.ship(
            batch.batch_id, to_party=DISTRIBUTOR.name, to_gln=DISTRIBUTOR.gln,
            units=product.units, to_province=DISTRIBUTOR.province,
        )  # fmt: skip
        station.receive(
            shipment.shipment_id, receiver=DISTRIBUTOR.name, receiver_gln=DISTRIBUTOR.gln,
            units=product.units, receiver_province=product.sold_in,
        )  # fmt: skip
        sender.wake()
        if not sender.drain(timeout=60):
            raise RuntimeError(f"the station of {product.code} could not reach Kafka in 60 s")
        return PackedBatch(
            product, batch.batch_id, tuple(label.url for label in run.labels), rendered.pdf,
            rendered.qr_version,
        )  # fmt: skip
    finally:
        sender.stop()
        station.close()


def _material(product: Product) -> RawMaterial:
    return RawMaterial(
        material=product.material, origin=product.origin, quantity=product.units, unit=Unit.PIECE
    )
