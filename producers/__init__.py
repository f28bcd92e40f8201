"""The packing station: batches, unit labels, scans at packing, and the outbox to Kafka.

- station: Station (open, print labels, scan, close, ship, receive, recall), StationView
- scanning: the checks of a scanned label and the reasons a scan is refused (vi/en)
- journal, outbox: the SQLite journal; events kept until Kafka acknowledged them
- sender: delivers the outbox with kafka-python (a thread, or `ocop-station send`)
- identity, settings: the producer key and trust list the station signs with; OCOP_*
- qr, labels, render, printing: QR codes at segno's output for a whole print run, the label
  artwork, PDF sheet / SVG / PNG renderers, and rendering on every core
- inputs, errors, cli: operator input, the station's errors, `ocop-station`
"""
