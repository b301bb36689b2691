"""Query uploads, checked before any model sees them: an image (bytes, a base64 string
or, when enabled, a URL) and audio, each under its limits.

Image URLs are fetched only when the server enables it, over http(s), and never from
loopback, private, link-local or otherwise non-global addresses: every address the
host resolves to is checked, the connection goes to the checked address, and each
redirect is checked again.
"""

from __future__ import annotations

import base64
import binascii
import io
import ipaddress
import socket
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import numpy as np

from hybrid.errors import InputError, TooLargeError, UnsupportedMediaError


@dataclass(frozen=True)
class Limits:
    image_bytes: int = 10 * 1024 * 1024
    image_pixels: int = 25_000_000
    image_formats: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
    audio_bytes: int = 10 * 1024 * 1024
    audio_seconds: float = 30.0
    fetch_urls: bool = False
    fetch_timeout: float = 5.0


def decode_image(data: bytes, limits: Limits, label: str = "image") -> Any:
    """An RGB PIL image from uploaded bytes, or InputError / TooLargeError / 415."""
    if len(data) > limits.image_bytes:
        raise TooLargeError(f"{label} is {len(data)} bytes; the limit is {limits.image_bytes}")
    if not data:
        raise InputError(f"{label} is empty")
    from PIL import Image, UnidentifiedImageError

    from hybrid.encoders.base import DecodeError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            header = Image.open(io.BytesIO(data))  # reads the header only
        fmt, (width, height) = header.format, header.size
    except UnidentifiedImageError as e:
        raise UnsupportedMediaError(f"{label} is not an image in a known format "
                                    f"({', '.join(limits.image_formats)})") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise TooLargeError(f"{label} declares too many pixels; the limit is "
                            f"{limits.image_pixels}") from e
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise DecodeError(f"{label}: corrupt or truncated image ({e})") from e
    if width * height > limits.image_pixels:  # before a pixel is decoded
        raise TooLargeError(f"{label} is {width}x{height} = {width * height} pixels; the "
                            f"limit is {limits.image_pixels}")
    if fmt not in limits.image_formats:
        raise UnsupportedMediaError(f"{label} is {fmt}; accepted formats: "
                                    f"{', '.join(limits.image_formats)}")
    from hybrid.encoders.image import load_image

    return load_image(data, max_pixels=limits.image_pixels)


def decode_audio(data: bytes, limits: Limits, label: str = "audio") -> np.ndarray:
    """16 kHz mono float32 samples from uploaded bytes (WAV, or anything PyAV reads)."""
    if len(data) > limits.audio_bytes:
        raise TooLargeError(f"{label} is {len(data)} bytes; the limit is {limits.audio_bytes}")
    from hybrid.encoders.audio import UnreadableAudioError, load_audio

    try:
        return load_audio(data, max_seconds=limits.audio_seconds, label=label)
    except UnreadableAudioError as e:  # as an image in no known format: 415
        raise UnsupportedMediaError(str(e)) from e


def from_base64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise InputError(f"{what} must be a base64 string")
    if "," in text[:100] and text.startswith("data:"):
        text = text.split(",", 1)[1]  # a data: URL
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InputError(f"{what} is not valid base64 ({e})") from e


Resolver = Callable[[str, int], Sequence[str]]


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise InputError(f"image_url host {host!r} cannot be resolved ({e.strerror})") from e
    return sorted({str(info[4][0]) for info in infos})


def check_address(addr: str) -> None:
    """Refuse anything but a public unicast address."""
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    kinds = [("loopback", ip.is_loopback), ("private", ip.is_private),
             ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
             ("reserved", ip.is_reserved), ("unspecified", ip.is_unspecified)]
    for kind, yes in kinds:
        if yes:
            raise InputError(f"image_url refused: {addr} is a {kind} address")
    if not ip.is_global:
        raise InputError(f"image_url refused: {addr} is not a public address")


def fetch_image(url: Any, limits: Limits, resolve: Resolver = _resolve,
                max_redirects: int = 3) -> bytes:
    """The bytes at a public http(s) URL, at most limits.image_bytes of them."""
    if not limits.fetch_urls:
        raise InputError("fetching image URLs is disabled on this server; upload the image "
                         "(multipart 'image') or send it as image_base64")
    if not isinstance(url, str):
        raise InputError("image_url must be a string")
    for _ in range(max_redirects + 1):
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as e:  # "http://[::1/": invalid IPv6 URL; a port out of range
            raise InputError(f"image_url is not a valid URL ({e}): {url[:200]!r}") from e
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"image_url must be an http(s) URL, got {url[:200]!r}")
        addrs = resolve(parts.hostname, port)
        if not addrs:
            raise InputError(f"image_url host {parts.hostname!r} has no address")
        for a in addrs:
            check_address(a)
        status, location, body = _get(parts, addrs[0], port, limits)
        if status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location)
            continue
        if status != 200:
            raise InputError(f"image_url answered HTTP {status}")
        return body
    raise InputError(f"image_url redirected more than {max_redirects} times")


def _get(parts: Any, addr: str, port: int, limits: Limits) -> tuple[int, str | None, bytes]:
    """GET from the checked address itself (no second DNS look-up), Host and SNI set
    to the URL's host name."""
    import http.client
    import ssl

    host = parts.hostname
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        ctx = ssl.create_default_context()
        conn = _PinnedHTTPS(addr, host, port, ctx, limits.fetch_timeout)
    else:
        conn = http.client.HTTPConnection(addr, port, timeout=limits.fetch_timeout)
    try:
        conn.request("GET", path, headers={"Host": host, "User-Agent": "hybrid-search",
                                           "Accept": "image/*"})
        resp = conn.getresponse()
        body = resp.read(limits.image_bytes + 1)
        if len(body) > limits.image_bytes:
            raise TooLargeError(f"image_url body is over the limit of {limits.image_bytes} "
                                "bytes")
        return resp.status, resp.getheader("Location"), body
    except OSError as e:
        raise InputError(f"image_url could not be fetched ({e})") from e
    finally:
        conn.close()


class _PinnedHTTPS:
    """An HTTPS connection to a fixed address that verifies the certificate of `host`."""

    def __new__(cls, addr: str, host: str, port: int, ctx: Any, timeout: float) -> Any:
        import http.client

        class Conn(http.client.HTTPSConnection):
            def connect(self) -> None:
                sock = socket.create_connection((addr, port), timeout)
                self.sock = ctx.wrap_socket(sock, server_hostname=host)

        return Conn(host, port, timeout=timeout, context=ctx)
