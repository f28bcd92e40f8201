"""The main job: the whole OCOP story on the local stack, with real products as demo data."""
