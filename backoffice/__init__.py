"""The inspectors' workspace: a mobile-first web app, in Vietnamese with English, for market
inspectors in shops (sign in with the office's token, scan a label's QR or a pack's EAN-13
with the phone's camera, see the verdict with what only inspectors see, record a finding,
triage the province's alerts).

Owns: its sessions and CSRF tokens (session.py), its forms (forms.py), pages, templates,
words and static files (pages.py, i18n.py, templates/, static/), its routes (routes.py) and
the sub-application that holds them (app.py), mounted at /inspect beside the public API or
run apart.

May touch: verify_api's services (resolution, the records' reads, the event sink), views,
schemas, settings and the inspectors' shared functions (routes.inspectors.send_finding,
routes.alerts.send_closing, deps); contract/ and records/ rows. Writes nothing itself:
findings and closings travel through Kafka as the API sends them. verify_api never imports
it, but for the one line of verify_api/app.py that mounts it.
"""
