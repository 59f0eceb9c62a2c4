"""ESA SAFE writer: Level-1C and Sen2Cor Level-2A products (folder or zip) with the real folder
structure, file names and ``MTD_MSIL1C.xml`` / ``MTD_MSIL2A.xml`` fields; JP2 written by GDAL's
JP2OpenJPEG driver (lossless).

Baselines >= 04.00 store DN = reflectance + 1000 and list the offset −1000 in the MTD, as ESA
does; older ones store the reflectance.

>>> from s2sr.testing import synthetic_pixels, write_safe_product
>>> safe = write_safe_product(tmp_dir, *synthetic_pixels(64), level="L1C", baseline="05.09")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

from ..bands import BANDS, GROUP_10M, GROUP_20M, esa_name
from .theia import ACQUIRED

__all__ = ["safe_dn", "safe_name", "write_safe_product"]


def safe_name(level: str, baseline: str, *, sat: str = "S2A", acquired: dt.datetime = ACQUIRED, tile: str = "33UUB") -> str:
    """An ESA product name, e.g. ``S2A_MSIL2A_20170527T102113_N0509_R065_T33UUB_20240101T120000.SAFE``."""
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
    out_dir: str | Path,
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
    stamp = f"{ACQUIRED:%Y%m%dT%H%M%S}"
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
        _mtd(level, baseline, name, image_files, offset=offset if offset_in_xml else None, sat=sat, acquired=ACQUIRED),
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
