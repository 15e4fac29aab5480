"""Small MaxMind-format databases with known ranges, written with mmdb-writer (test extra).

    city, asn = write_databases(tmp_path)

The records have the shape of GeoLite2-City and GeoLite2-ASN records (and DB-IP Lite's,
which are the same), so the processor reads them exactly as it reads the real files. Both
files are IPv6 trees with the IPv4 space mapped in (as the real ones are).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter, MmdbU32
from netaddr import IPSet


def city(iso: str, country: str, region: str | None, region_iso: str | None, name: str | None,
         lat: float, lon: float, continent: str = "Europe") -> dict[str, Any]:
    rec: dict[str, Any] = {
        "continent": {"code": continent[:2].upper(), "names": {"en": continent}},
        "country": {"iso_code": iso, "names": {"en": country, "de": country}},
        "location": {"latitude": lat, "longitude": lon, "time_zone": "Europe/London"},
    }
    if region:
        rec["subdivisions"] = [{"iso_code": region_iso, "names": {"en": region}}]
    if name:
        rec["city"] = {"names": {"en": name}}
    return rec


# network -> City record; the expected ECS geo is spelled out in the tests, not derived from here
CITY: dict[str, dict[str, Any]] = {
    "81.2.69.0/24": city("GB", "United Kingdom", "England", "ENG", "London", 51.5142, -0.0931),
    "1.2.3.0/24": city("CN", "China", "Beijing", "BJ", "Beijing", 39.9143, 116.3861, "Asia"),
    "2001:4860::/32": city("US", "United States", None, None, None, 37.751, -97.822, "North America"),
    "89.160.20.0/24": city("SE", "Sweden", "Östergötland County", "E", "Linköping", 58.4167, 15.6167),
}
ASN: dict[str, tuple[int, str]] = {
    "81.2.69.0/24": (20712, "Andrews & Arnold Ltd"),
    "8.8.8.0/24": (15169, "Google LLC"),
    "2001:4860::/32": (15169, "Google LLC"),
}


def write_databases(directory: Path, city_records: dict[str, dict[str, Any]] | None = None,
                    asn_records: dict[str, tuple[int, str]] | None = None) -> tuple[str, str]:
    """(city path, asn path) of two fresh .mmdb files in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    cw = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City", languages=["en"],
                    description={"en": "Logwarden test City database"})
    for net, rec in (CITY if city_records is None else city_records).items():
        cw.insert_network(IPSet([net]), rec)
    aw = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN",
                    description={"en": "Logwarden test ASN database"})
    for net, (num, org) in (ASN if asn_records is None else asn_records).items():
        aw.insert_network(IPSet([net]), {"autonomous_system_number": MmdbU32(num), "autonomous_system_organization": org})
    cp, ap = directory / "test-city.mmdb", directory / "test-asn.mmdb"
    cw.to_db_file(str(cp))
    aw.to_db_file(str(ap))
    return str(cp), str(ap)
