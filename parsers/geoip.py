"""GeoIP and ASN enrichment from MaxMind-format databases (GeoLite2, DB-IP Lite, ...).

    geo = GeoDatabases(["GeoLite2-City.mmdb", "GeoLite2-ASN.mmdb"], cache_size=65536)
    geo.lookup("8.8.8.8")   # -> ({"country_iso_code": "US", ...}, {"number": 15169, ...}) | SKIPPED | None

Every database is asked about every address and the answers are merged, so a City (or
Country) database and an ASN database together give both `geo` and `as`; which kind a file
is does not matter (its records say: `country`/`city`/`location`... or
`autonomous_system_*`). Files are read with the `maxminddb` package (its C extension where
it was built; memory-mapped, so N parser processes share one copy in the page cache).

Addresses that no database can place - private (RFC 1918, ULA), loopback, link-local,
documentation (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32), CGNAT, multicast,
unspecified, reserved - are never looked up: `lookup` answers SKIPPED and the caller tags
the event. Answers are kept in an LRU keyed by the address text, because a stream repeats its
addresses endlessly: a hit costs one dict probe instead of a tree walk and record decode.
"""
from __future__ import annotations

import ipaddress
import logging
import os
import time
from functools import lru_cache
from typing import Any

log = logging.getLogger("logwarden.parsers.geoip")

SKIPPED = "skipped"  # the address is not routable on the internet: not looked up

# beyond ipaddress' is_private (which covers RFC 1918, ULA and the documentation ranges)
_NOT_GLOBAL = tuple(ipaddress.ip_network(n) for n in ("100.64.0.0/10", "192.0.0.0/24", "198.18.0.0/15"))

Geo = dict[str, Any]
As = dict[str, Any]


def not_routable(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Private, loopback, link-local, documentation, CGNAT, multicast, reserved or unspecified."""
    if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return True
    return ip.version == 4 and any(ip in n for n in _NOT_GLOBAL)


def _name(rec: Any) -> str | None:
    if isinstance(rec, dict):
        names = rec.get("names")
        if isinstance(names, dict):
            v = names.get("en")
            return v if isinstance(v, str) else None
    return None


def ecs_geo(rec: dict[str, Any]) -> Geo | None:
    """ECS geo.* from a GeoIP2/GeoLite2/DB-IP City or Country record (None: nothing useful)."""
    geo: Geo = {}
    country = rec.get("country") or rec.get("registered_country")
    if isinstance(country, dict):
        if isinstance(country.get("iso_code"), str):
            geo["country_iso_code"] = country["iso_code"]
        if (n := _name(country)) is not None:
            geo["country_name"] = n
    cont = rec.get("continent")
    if isinstance(cont, dict) and (n := _name(cont)) is not None:
        geo["continent_name"] = n
    subs = rec.get("subdivisions")
    if isinstance(subs, list) and subs and isinstance(subs[0], dict):
        if (n := _name(subs[0])) is not None:
            geo["region_name"] = n
        iso = subs[0].get("iso_code")
        if isinstance(iso, str) and "country_iso_code" in geo:
            geo["region_iso_code"] = f"{geo['country_iso_code']}-{iso}"
    if (n := _name(rec.get("city"))) is not None:
        geo["city_name"] = n
    loc = rec.get("location")
    if isinstance(loc, dict):
        lat, lon = loc.get("latitude"), loc.get("longitude")
        if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
            geo["location"] = {"lat": float(lat), "lon": float(lon)}
        if isinstance(loc.get("time_zone"), str):
            geo["timezone"] = loc["time_zone"]
    return geo or None


def ecs_as(rec: dict[str, Any]) -> As | None:
    """ECS as.* from a GeoLite2/DB-IP ASN record (None: not an ASN record)."""
    out: As = {}
    num = rec.get("autonomous_system_number")
    if isinstance(num, int) and not isinstance(num, bool):
        out["number"] = num
    org = rec.get("autonomous_system_organization")
    if isinstance(org, str):
        out["organization"] = {"name": org}
    return out or None


class GeoDatabases:
    """Readers for the configured files and the cached address -> (geo, as) answer."""

    def __init__(self, paths: list[str], cache_size: int = 65536, reload_seconds: float = 60.0):
        self.paths = list(paths)
        self.reload_seconds = reload_seconds
        self.generation = 0  # bumped by each reload: the fast path drops its bytes cache then
        self._stamps = self._stat()
        self.readers = self._open()
        self._next_check = time.monotonic() + reload_seconds
        self._bad: tuple[Any, ...] | None = None
        self.lookup = lru_cache(maxsize=cache_size)(self._lookup)

    def _open(self) -> list[Any]:
        import maxminddb

        return [maxminddb.open_database(p) for p in self.paths]

    def _stat(self) -> tuple[Any, ...]:
        out = []
        for p in self.paths:
            try:
                st = os.stat(p)
                out.append((st.st_mtime_ns, st.st_size, st.st_ino))
            except OSError:
                out.append(None)
        return tuple(out)

    def maybe_reload(self, now: float | None = None) -> bool:
        """Open the files again when one changed (geoipupdate replaces them weekly); checked at
        most every reload_seconds, called by the stage once per batch, never per event. A file
        that is missing or does not open keeps the previous readers (warned once)."""
        now = time.monotonic() if now is None else now
        if now < self._next_check:
            return False
        self._next_check = now + self.reload_seconds
        stamps = self._stat()
        if stamps == self._stamps or stamps == self._bad:
            return False
        if None in stamps:
            return False  # a file is being replaced: try again at the next check
        try:
            readers = self._open()
        except (OSError, RuntimeError, ValueError) as exc:  # maxminddb.InvalidDatabaseError is a RuntimeError
            self._bad = stamps
            log.warning("GeoIP databases not reloaded, keeping the previous ones", extra={"error": str(exc)})
            return False
        old, self.readers, self._stamps, self._bad = self.readers, readers, stamps, None
        self.lookup.cache_clear()
        self.generation += 1
        for r in old:
            r.close()
        log.info("GeoIP databases reloaded", extra={"databases": self.metadata()})
        return True

    def metadata(self) -> list[dict[str, Any]]:
        """Each file's type and build time (for `logwarden parse --explain` and the stage log)."""
        return [{"path": p, "type": r.metadata().database_type, "build_epoch": r.metadata().build_epoch}
                for p, r in zip(self.paths, self.readers)]

    def _lookup(self, text: str) -> tuple[Geo | None, As | None] | str | None:
        """(geo, as) for a public address, SKIPPED for a non-routable one, None for text that is
        no address or an address no database knows. Never raises."""
        if text.__class__ is not str or not text or len(text) > 64:
            return None
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            return None
        if ip.version == 6 and ip.ipv4_mapped is not None:  # type: ignore[union-attr]
            ip = ip.ipv4_mapped  # type: ignore[union-attr]  # the IPv4 tree, as a real database aliases it
        if not_routable(ip):
            return SKIPPED
        geo: Geo | None = None
        asn: As | None = None
        for r in self.readers:
            try:
                rec = r.get(ip)
            except (ValueError, TypeError):  # an IPv6 address asked of an IPv4-only file
                continue
            if not isinstance(rec, dict):
                continue
            geo = geo or ecs_geo(rec)
            asn = asn or ecs_as(rec)
        return (geo, asn) if geo or asn else None

    def close(self) -> None:
        for r in self.readers:
            r.close()
