"""Test support for inputs: ESA SAFE and STAC item writers, a Range-capable HTTP server, a real STAC API.

- :func:`write_safe_product`: an L1C or Sen2Cor L2A SAFE (folder or zip) with the real folder
  structure, file names and MTD_MSIL1C/2A.xml fields, JP2 written by GDAL's JP2OpenJPEG (lossless).
- :func:`rewrite_item`: a real STAC item rewritten to point at local files (hrefs, and the
  grid fields ``proj:shape`` / ``proj:transform`` / ``gsd`` / ``raster:bands`` resolution read
  from the files).
- :class:`RangeServer`: ``http.server`` with HTTP Range support on 127.0.0.1, counting requests
  and bytes, able to answer 503 a given number of times.
- :class:`PgStacApi`: stac-fastapi-pgstac on a throw-away Debian PostgreSQL 15 + PostGIS cluster
  (pypgstac migrates and loads), as RECIPES.md describes.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import http.server
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from s2sr.bands import BANDS, GROUP_10M, GROUP_20M, canonical, esa_name

ACQ = dt.datetime(2017, 5, 27, 10, 21, 13, 456000)
PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")


# -- SAFE ------------------------------------------------------------------------------------
def safe_name(level: str, baseline: str, *, sat: str = "S2A", acquired: dt.datetime = ACQ, tile: str = "33UUB") -> str:
    n = baseline.replace(".", "")
    return f"{sat}_MSI{level}_{acquired:%Y%m%dT%H%M%S}_N{n}_R065_T{tile}_20240101T120000.SAFE"


def _mtd(level: str, baseline: str, name: str, image_files: list[str], *, offset: int | None, sat: str,
         acquired: dt.datetime) -> str:
    ns = f"https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-{level[1:]}.xsd"
    root_tag = f"Level-{level[1:]}_User_Product"
    start = acquired.strftime("%Y-%m-%dT%H:%M:%S.") + f"{acquired.microsecond // 1000:03d}Z"
    granule = "\n".join(f"            <IMAGE_FILE>{f}</IMAGE_FILE>" for f in image_files)
    bands_xml = "\n".join(
        f'        <Spectral_Information bandId="{i}" physicalBand="{esa_name(b) if b != "B8A" else b}">'
        f"<RESOLUTION>{BANDS[b].resolution}</RESOLUTION></Spectral_Information>"
        for i, b in enumerate(("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B10", "B11", "B12"))
    )
    if level == "L1C":
        quant = '<QUANTIFICATION_VALUE unit="none">10000</QUANTIFICATION_VALUE>'
        offs = ("<Radiometric_Offset_List>\n" + "\n".join(
            f'        <RADIO_ADD_OFFSET band_id="{i}">{offset}</RADIO_ADD_OFFSET>' for i in range(13))
            + "\n      </Radiometric_Offset_List>") if offset is not None else ""
        ptype, plevel = "S2MSI1C", "Level-1C"
    else:
        quant = ("<QUANTIFICATION_VALUES_LIST>\n        <BOA_QUANTIFICATION_VALUE unit=\"none\">10000"
                 "</BOA_QUANTIFICATION_VALUE>\n        <AOT_QUANTIFICATION_VALUE unit=\"none\">1000.0"
                 "</AOT_QUANTIFICATION_VALUE>\n        <WVP_QUANTIFICATION_VALUE unit=\"cm\">1000.0"
                 "</WVP_QUANTIFICATION_VALUE>\n      </QUANTIFICATION_VALUES_LIST>")
        offs = ("<BOA_ADD_OFFSET_VALUES_LIST>\n" + "\n".join(
            f'        <BOA_ADD_OFFSET band_id="{i}">{offset}</BOA_ADD_OFFSET>' for i in range(13))
            + "\n      </BOA_ADD_OFFSET_VALUES_LIST>") if offset is not None else ""
        ptype, plevel = "S2MSI2A", "Level-2A"
    dt_id = f"G{sat}_{acquired:%Y%m%dT%H%M%S}_010082_N{baseline}"
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<n1:{root_tag} xmlns:n1="{ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="{ns}">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>{start}</PRODUCT_START_TIME>
      <PRODUCT_STOP_TIME>{start}</PRODUCT_STOP_TIME>
      <PRODUCT_URI>{name}</PRODUCT_URI>
      <PROCESSING_LEVEL>{plevel}</PROCESSING_LEVEL>
      <PRODUCT_TYPE>{ptype}</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
      <PRODUCT_DOI>https://doi.org/10.5270/S2_-742ikth</PRODUCT_DOI>
      <GENERATION_TIME>2024-01-01T12:00:00.000000Z</GENERATION_TIME>
      <PREVIEW_IMAGE_URL>Not applicable</PREVIEW_IMAGE_URL>
      <PREVIEW_GEO_INFO>Not applicable</PREVIEW_GEO_INFO>
      <Datatake datatakeIdentifier="{dt_id}">
        <SPACECRAFT_NAME>Sentinel-{sat[1:]}</SPACECRAFT_NAME>
        <DATATAKE_TYPE>INS-NOBS</DATATAKE_TYPE>
        <DATATAKE_SENSING_START>{start}</DATATAKE_SENSING_START>
        <SENSING_ORBIT_NUMBER>65</SENSING_ORBIT_NUMBER>
        <SENSING_ORBIT_DIRECTION>DESCENDING</SENSING_ORBIT_DIRECTION>
      </Datatake>
      <Query_Options completeSingleTile="true">
        <PRODUCT_FORMAT>SAFE_COMPACT</PRODUCT_FORMAT>
      </Query_Options>
      <Product_Organisation>
        <Granule_List>
          <Granule datastripIdentifier="{sat}_OPER_MSI_{level}_DS_2BPS_20240101T120000_S{acquired:%Y%m%dT%H%M%S}_N{baseline}" granuleIdentifier="{sat}_OPER_MSI_{level}_TL_2BPS_20240101T120000_A010082_T33UUB_N{baseline}" imageFormat="JPEG2000">
{granule}
          </Granule>
        </Granule_List>
      </Product_Organisation>
    </Product_Info>
    <Product_Image_Characteristics>
      <Special_Values><SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT><SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX></Special_Values>
      <Special_Values><SPECIAL_VALUE_TEXT>SATURATED</SPECIAL_VALUE_TEXT><SPECIAL_VALUE_INDEX>65535</SPECIAL_VALUE_INDEX></Special_Values>
      {quant}
      {offs}
      <Spectral_Information_List>
{bands_xml}
      </Spectral_Information_List>
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:{root_tag}>
"""


def _write_jp2(path: Path, data: np.ndarray, transform: Affine, crs: CRS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path, "w", driver="JP2OpenJPEG", width=data.shape[1], height=data.shape[0], count=1, dtype="uint16",
        crs=crs, transform=transform, QUALITY=100, REVERSIBLE="YES", YCBCR420="NO",
    ) as ds:
        ds.write(data.astype(np.uint16), 1)


def safe_dn(reflectance: np.ndarray, offset: int) -> np.ndarray:
    """Reflectance × 10000 (Theia int16, nodata −10000) → ESA uint16 DN (nodata 0, offset carried)."""
    out = reflectance.astype(np.int32) - offset
    out[reflectance == -10000] = 0
    return out.astype(np.uint16)


def write_safe_product(
    out_dir: Path,
    bands10: np.ndarray,
    bands20: np.ndarray,
    *,
    level: str = "L2A",
    baseline: str = "05.09",
    nodata_cols: int = 0,
    origin: tuple[float, float] = (300000.0, 6200040.0),
    epsg: int = 32633,
    as_zip: bool = False,
    drop: tuple[str, ...] = (),
    offset_in_xml: bool | None = None,
) -> Path:
    """Write a SAFE from reflectance × 10000 arrays (B2 B3 B4 B8 at 10 m, B5 … B12 at 20 m).

    Baselines >= 04.00 store DN = reflectance + 1000 and list the offset −1000 in the MTD; older
    ones store the reflectance.  ``drop``: band JP2 files left out (still listed in the MTD).
    """
    sat = "S2A"
    name = safe_name(level, baseline)
    root = Path(out_dir) / name
    carries = tuple(int(x) for x in baseline.split(".")) >= (4, 0)
    offset = -1000 if carries else 0
    if offset_in_xml is None:
        offset_in_xml = carries
    b10 = np.asarray(bands10, np.int16).copy()
    b20 = np.asarray(bands20, np.int16).copy()
    if nodata_cols:
        b10[:, :, :nodata_cols] = -10000
        b20[:, :, : (nodata_cols + 1) // 2] = -10000
    crs = CRS.from_epsg(epsg)
    stamp = f"{ACQ:%Y%m%dT%H%M%S}"
    granule = f"GRANULE/{level}_T33UUB_A010082_{stamp}"
    image_files: list[str] = []
    for res, group, data in ((10, GROUP_10M, b10), (20, GROUP_20M, b20)):
        transform = Affine(res, 0, origin[0], 0, -res, origin[1])
        for i, band in enumerate(group):
            esa = esa_name(band)
            rel = (f"{granule}/IMG_DATA/R{res}m/T33UUB_{stamp}_{esa}_{res}m" if level == "L2A"
                   else f"{granule}/IMG_DATA/T33UUB_{stamp}_{esa}")
            image_files.append(rel)
            if band not in drop:
                _write_jp2(root / f"{rel}.jp2", safe_dn(data[i], offset), transform, crs)
    if level == "L2A":  # Sen2Cor extras: a resampled copy of B02 in R20m, SCL and AOT (must be ignored)
        t20 = Affine(20, 0, origin[0], 0, -20, origin[1])
        t10 = Affine(10, 0, origin[0], 0, -10, origin[1])
        b02_20 = safe_dn(b10[0].reshape(b10.shape[1] // 2, 2, -1, 2).mean(axis=(1, 3)).astype(np.int16), offset)
        _write_jp2(root / f"{granule}/IMG_DATA/R20m/T33UUB_{stamp}_B02_20m.jp2", b02_20 + 7, t20, crs)
        _write_jp2(root / f"{granule}/IMG_DATA/R20m/T33UUB_{stamp}_SCL_20m.jp2", np.full(b20.shape[1:], 4), t20, crs)
        _write_jp2(root / f"{granule}/IMG_DATA/R10m/T33UUB_{stamp}_AOT_10m.jp2", np.full(b10.shape[1:], 100), t10, crs)
        image_files += [f"{granule}/IMG_DATA/R20m/T33UUB_{stamp}_B02_20m", f"{granule}/IMG_DATA/R20m/T33UUB_{stamp}_SCL_20m"]
    (root / granule / "QI_DATA").mkdir(parents=True, exist_ok=True)
    (root / granule / "AUX_DATA").mkdir(parents=True, exist_ok=True)
    (root / granule / "MTD_TL.xml").write_text('<?xml version="1.0" encoding="UTF-8"?>\n<n1:Level-1C_Tile_ID/>\n')
    for d in ("DATASTRIP", "AUX_DATA", "HTML", "rep_info"):
        (root / d).mkdir(exist_ok=True)
    (root / "manifest.safe").write_text('<?xml version="1.0" encoding="UTF-8"?>\n<xfdu:XFDU/>\n')
    (root / "INSPIRE.xml").write_text('<?xml version="1.0" encoding="UTF-8"?>\n<gmd:MD_Metadata/>\n')
    (root / f"MTD_MSI{level}.xml").write_text(
        _mtd(level, baseline, name, image_files, offset=offset if offset_in_xml else None, sat=sat, acquired=ACQ),
        encoding="utf-8",
    )
    if not as_zip:
        return root
    zpath = Path(out_dir) / (name.removesuffix(".SAFE") + ".zip")
    with zipfile.ZipFile(zpath, "w", compression=zipfile.ZIP_STORED) as zf:
        for f in sorted(root.rglob("*")):
            zf.write(f, f.relative_to(out_dir).as_posix())
    shutil.rmtree(root)
    return zpath


# -- STAC items ----------------------------------------------------------------------------
ES_ITEM = "earthsearch_l2a_T29RKH_100m/S2A_29RKH_20200219_0_L2A.json"
ES_ASSET_FILES = {
    "coastal": "B01", "blue": "B02", "green": "B03", "red": "B04", "rededge1": "B05", "rededge2": "B06",
    "rededge3": "B07", "nir": "B08", "nir08": "B8A", "nir09": "B09", "swir16": "B11", "swir22": "B12", "scl": "SCL",
}


def rewrite_item(item: Mapping[str, Any], files: Mapping[str, Path], *, base_href: str | None = None,
                 drop_assets: bool = True, **props: Any) -> dict[str, Any]:
    """``item`` with each asset in ``files`` pointing at that file (or ``base_href``/name) and its
    grid fields (proj:shape, proj:transform, gsd, raster:bands spatial_resolution), bbox and
    geometry read from the file; other assets dropped; ``props`` set on the properties."""
    out = copy.deepcopy(dict(item))
    assets: dict[str, Any] = {}
    bounds = None
    crs = None
    for key, path in files.items():
        a = dict(out["assets"][key])
        with rasterio.open(path) as ds:
            t = ds.transform
            a["proj:shape"] = [ds.height, ds.width]
            a["proj:transform"] = [t.a, t.b, t.c, t.d, t.e, t.f]
            if "gsd" in a:
                a["gsd"] = t.a
            for rb in a.get("raster:bands", []):
                rb["spatial_resolution"] = t.a
            bounds, crs = ds.bounds, ds.crs
        a["href"] = f"{base_href.rstrip('/')}/{path.name}" if base_href else str(path)
        assets[key] = a
    out["assets"] = assets if drop_assets else {**out["assets"], **assets}
    if bounds is not None and crs is not None:
        w, s, e, n = transform_bounds(crs, "EPSG:4326", *bounds)
        out["bbox"] = [w, s, e, n]
        out["geometry"] = {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
        out["properties"]["proj:epsg"] = crs.to_epsg()
    out["links"] = [lk for lk in out.get("links", []) if lk.get("rel") not in {"self", "root", "parent", "collection"}]
    out["properties"].update(props)
    return out


def write_cogs(out_dir: Path, bands10: np.ndarray, bands20: np.ndarray, *, offset: int, nodata_cols: int = 0,
               origin: tuple[float, float] = (300000.0, 6200040.0), epsg: int = 32633) -> dict[str, Path]:
    """Earth Search-like COGs (uint16, nodata 0, ``B02.tif`` …) from reflectance × 10000 arrays."""
    out_dir.mkdir(parents=True, exist_ok=True)
    b10 = np.asarray(bands10, np.int16).copy()
    b20 = np.asarray(bands20, np.int16).copy()
    if nodata_cols:
        b10[:, :, :nodata_cols] = -10000
        b20[:, :, : (nodata_cols + 1) // 2] = -10000
    files: dict[str, Path] = {}
    key_of = {v: k for k, v in ES_ASSET_FILES.items()}
    for res, group, data in ((10, GROUP_10M, b10), (20, GROUP_20M, b20)):
        for i, band in enumerate(group):
            esa = esa_name(band)
            path = out_dir / f"{esa}.tif"
            with rasterio.open(path, "w", driver="COG", width=data.shape[2], height=data.shape[1], count=1,
                               dtype="uint16", nodata=0, crs=CRS.from_epsg(epsg),
                               transform=Affine(res, 0, origin[0], 0, -res, origin[1]),
                               compress="deflate", blocksize=256) as ds:
                ds.write(safe_dn(data[i], offset), 1)
            files[key_of[esa]] = path
    return files


def es_v1_item(files: Mapping[str, Path], *, item_id: str = "S2A_33UUB_20170527_0_L2A", base_href: str | None = None,
               **props: Any) -> dict[str, Any]:
    """An item in Earth Search v1's form (asset keys blue … swir22, eo:bands names, raster:bands),
    built without the shared sample so tests that only need the form run anywhere."""
    assets: dict[str, Any] = {}
    for key in files:
        esa = ES_ASSET_FILES[key]
        info = BANDS[canonical(esa)]
        assets[key] = {
            "href": "", "type": "image/tiff; application=geotiff; profile=cloud-optimized", "title": key,
            "eo:bands": [{"name": key, "common_name": info.common_name, "center_wavelength": info.center_wavelength,
                          "full_width_half_max": info.full_width_half_max}],
            "gsd": info.resolution,
            "raster:bands": [{"nodata": 0, "data_type": "uint16", "bits_per_sample": 15,
                              "spatial_resolution": info.resolution, "scale": 0.0001, "offset": 0}],
            "roles": ["data", "reflectance"],
        }
    item = {
        "type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": "sentinel-2-l2a",
        "stac_extensions": ["https://stac-extensions.github.io/eo/v1.0.0/schema.json",
                            "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
                            "https://stac-extensions.github.io/projection/v1.0.0/schema.json"],
        "bbox": [0, 0, 0, 0], "geometry": None,
        "properties": {"platform": "sentinel-2a", "constellation": "sentinel-2", "instruments": ["msi"],
                       "s2:product_type": "S2MSI2A", "eo:cloud_cover": 1.0},
        "links": [], "assets": assets,
    }
    return rewrite_item(item, files, base_href=base_href, **props)


def es_item_for(shared: Path, files: Mapping[str, Path], *, base_href: str | None = None, **props: Any) -> dict[str, Any]:
    item = json.loads((shared / "data" / ES_ITEM).read_text())
    return rewrite_item(item, files, base_href=base_href, **props)


def shared_es_files(shared: Path) -> dict[str, Path]:
    d = shared / "data" / "earthsearch_l2a_T29RKH_100m"
    return {k: d / f"{v}.tif" for k, v in ES_ASSET_FILES.items()}


# -- HTTP server with Range --------------------------------------------------------------
class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def send_head(self):  # type: ignore[no-untyped-def]
        srv = self.server
        with srv.lock:
            srv.requests += 1
            left = srv.fail.get(self.path.split("?")[0], 0)
            if left:
                srv.fail[self.path.split("?")[0]] = left - 1
        if left:
            self.send_error(503, "try again")
            return None
        rng = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not rng or os.path.isdir(path) or not os.path.isfile(path):
            return super().send_head()
        m = re.match(r"bytes=(\d*)-(\d*)$", rng.strip())
        size = os.path.getsize(path)
        if not m:
            self.send_error(416)
            return None
        start = int(m.group(1)) if m.group(1) else max(size - int(m.group(2)), 0)
        end = int(m.group(2)) if m.group(1) and m.group(2) else size - 1
        end = min(end, size - 1)
        if start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return None
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read(end - start + 1)
        with srv.lock:
            srv.bytes_sent += len(data)
            srv.range_requests += 1
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        return io.BytesIO(data)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    lock: threading.Lock
    requests: int
    range_requests: int
    bytes_sent: int
    fail: dict[str, int]


class RangeServer:
    """Serves ``root`` on 127.0.0.1 with HTTP Range support; a context manager."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._srv = _Server(("127.0.0.1", 0), partial(_RangeHandler, directory=str(self.root)))
        self._srv.lock = threading.Lock()
        self._srv.requests = self._srv.range_requests = self._srv.bytes_sent = 0
        self._srv.fail = {}
        self.url = f"http://127.0.0.1:{self._srv.server_address[1]}"
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)

    def __enter__(self) -> RangeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._srv.shutdown()
        self._srv.server_close()

    def fail_next(self, path: str, times: int) -> None:
        """Answer 503 to the next ``times`` requests of ``path`` (e.g. ``/item.json``)."""
        with self._srv.lock:
            self._srv.fail[path] = times

    @property
    def stats(self) -> dict[str, int]:
        return {"requests": self._srv.requests, "range_requests": self._srv.range_requests,
                "bytes": self._srv.bytes_sent}

    def reset_stats(self) -> None:
        with self._srv.lock:
            self._srv.requests = self._srv.range_requests = self._srv.bytes_sent = 0


# -- STAC API: stac-fastapi-pgstac on PostgreSQL + PostGIS -----------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"STAC API server unavailable in CI: {reason}")
    pytest.skip(reason)


def ensure_postgis() -> None:
    """PostgreSQL 15 + PostGIS: install postgresql-15-postgis-3 with apt-get when missing and root."""
    if not (PG_BIN / "initdb").exists():
        _unavailable("PostgreSQL 15 is not installed (/usr/lib/postgresql/15/bin)")
    if POSTGIS_CONTROL.exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        _unavailable("PostGIS is missing and apt-get cannot run here (need root)")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql-15-postgis-3"]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if r.returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True)
        r = subprocess.run(cmd, capture_output=True, text=True,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if r.returncode != 0 or not POSTGIS_CONTROL.exists():
        _unavailable(f"installing postgresql-15-postgis-3 failed: {r.stderr.strip()[-300:]}")


class PgStacApi:
    """A real STAC API (stac-fastapi-pgstac) on a throw-away PostgreSQL cluster; a context manager."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="s2sr-pgstac-"))
        self.pg_port = _free_port()
        self.api_port = _free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self._api: subprocess.Popen[bytes] | None = None
        self._pg_started = False
        self.env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": str(self.pg_port), "PGUSER": "postgres",
                    "PGPASSWORD": "unused", "PGDATABASE": "postgres"}

    def _run(self, *cmd: str, as_postgres: bool = False, env: dict[str, str] | None = None) -> None:
        root = os.geteuid() == 0  # PostgreSQL refuses to run as root: run it as postgres then
        full = ["runuser", "-u", "postgres", "--", *cmd] if as_postgres and root else list(cmd)
        r = subprocess.run(full, capture_output=True, text=True, env=env or self.env, timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:3])} failed: {(r.stderr or r.stdout).strip()[-800:]}")

    def __enter__(self) -> PgStacApi:
        ensure_postgis()
        try:
            if os.geteuid() == 0:
                shutil.chown(self.dir, "postgres", "postgres")
            self._run(str(PG_BIN / "initdb"), "-D", f"{self.dir}/data", "-U", "postgres", "--auth=trust",
                      as_postgres=True)
            self._run(str(PG_BIN / "pg_ctl"), "-D", f"{self.dir}/data", "-l", f"{self.dir}/pg.log", "-w", "-o",
                      f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {self.dir} -c fsync=off "
                      "-c full_page_writes=off -c synchronous_commit=off", "start", as_postgres=True)
            self._pg_started = True
            self._pypgstac("migrate")
            api_env = {**self.env, "ENABLE_TRANSACTIONS_EXTENSIONS": "false"}
            self._api = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "stac_fastapi.pgstac.app:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(self.api_port), "--log-level", "warning"],
                env=api_env, stdout=subprocess.DEVNULL, stderr=open(self.dir / "api.log", "wb"),
            )
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(OSError):
                    with urllib.request.urlopen(f"{self.url}/_mgmt/ping", timeout=2) as r:
                        if r.status == 200:
                            break
                if self._api.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("stac-fastapi did not start: " + (self.dir / "api.log").read_text()[-800:])
                time.sleep(0.2)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _pypgstac(self, *args: str) -> None:
        exe = Path(sys.executable).parent / "pypgstac"
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "pypgstac.pypgstac"]
        self._run(*cmd, *args)

    def load(self, collection: Mapping[str, Any], items: list[Mapping[str, Any]]) -> None:
        cfile = self.dir / f"collection-{collection['id']}.json"
        cfile.write_text(json.dumps(collection))
        ifile = self.dir / f"items-{collection['id']}.ndjson"
        ifile.write_text("\n".join(json.dumps(it) for it in items) + "\n")
        self._pypgstac("load", "collections", str(cfile), "--method", "upsert")
        self._pypgstac("load", "items", str(ifile), "--method", "upsert")

    def __exit__(self, *exc: object) -> None:
        if self._api is not None:
            self._api.terminate()
            try:
                self._api.wait(10)
            except subprocess.TimeoutExpired:
                self._api.kill()
        if self._pg_started:
            with contextlib.suppress(Exception):
                self._run(str(PG_BIN / "pg_ctl"), "-D", f"{self.dir}/data", "-m", "immediate", "-w", "stop",
                          as_postgres=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def serving(root: Path) -> Iterator[RangeServer]:
    with RangeServer(root) as srv:
        yield srv


