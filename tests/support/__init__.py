"""Servers and checkers the tests start or use (test-only; not part of the package).

- :mod:`.stac_api`: a real STAC API (stac-fastapi-pgstac on PostgreSQL + PostGIS);
- :mod:`.zoo_mirror`: a model mirror with HTTP Range that can drop or corrupt responses;
- :mod:`.faults`: a TCP proxy that cuts connections mid-transfer;
- :mod:`.openeo_harness`: runs the UDF as an openEO back-end's ``apply_neighborhood`` does, and
  checks process graphs against the official process specs;
- :mod:`.stac_validate`: STAC JSON-schema validation from local schema copies.

Product and model writers, the HTTP Range server and the SeaweedFS S3 server are public, in
:mod:`s2sr.testing`, so that benchmarks and users' tests can use them too.
"""
