"""Query uploads under their limits, and image URLs that must not reach inside."""

from __future__ import annotations

import base64
import io
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from hybrid.encoders.base import DecodeError
from hybrid.errors import InputError, TooLargeError, UnsupportedMediaError
from hybrid.search.inputs import (
    Limits,
    check_address,
    decode_image,
    fetch_image,
    from_base64,
)

pytestmark = pytest.mark.unit


def png(size: tuple[int, int] = (8, 8), fmt: str = "PNG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buf, format=fmt)
    return buf.getvalue()


def test_images_within_limits_decode() -> None:
    image = decode_image(png(), Limits())
    assert image.size == (8, 8) and image.mode == "RGB"


def test_image_limits_and_formats() -> None:
    with pytest.raises(TooLargeError, match="limit is 20"):
        decode_image(png(), Limits(image_bytes=20))
    with pytest.raises(TooLargeError, match="100x100 = 10000 pixels; the limit is 50"):
        decode_image(png((100, 100)), Limits(image_pixels=50))
    with pytest.raises(UnsupportedMediaError, match="not an image"):
        decode_image(b"%PDF-1.4 not an image", Limits())
    with pytest.raises(UnsupportedMediaError, match="TIFF; accepted formats: JPEG"):
        decode_image(png(fmt="TIFF"), Limits(image_formats=("JPEG",)))
    with pytest.raises(InputError, match="empty"):
        decode_image(b"", Limits())
    truncated = png((64, 64), "JPEG")[:200]
    with pytest.raises(DecodeError, match="corrupt or truncated"):
        decode_image(truncated, Limits())


def bomb_png(width: int = 40000, height: int = 40000) -> bytes:
    """A small PNG whose header declares width x height pixels (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = zlib.compress(b"\x00" * (width * 3 + 1) * 16, 9)  # a few rows, then it ends
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                               0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


@pytest.mark.parametrize("size", [(40000, 40000), (12000, 12000), (6000, 6000)])
def test_decompression_bombs_are_refused_before_decoding(size: tuple[int, int]) -> None:
    """Past Pillow's own bomb limit, past its warning, and past ours (25 megapixels):
    a 413 with the reason, and memory stays small."""
    import tracemalloc

    data = bomb_png(*size)
    assert len(data) < 200_000
    tracemalloc.start()
    try:
        with pytest.raises(TooLargeError, match="pixels"):
            decode_image(data, Limits())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000


@pytest.mark.parametrize("url", ["http://[::1/", "http://[zz]/x.png", "http://h:99999/x.png",
                                 "http://h:port/x.png", "https://[::1]:0x50/"])
def test_malformed_urls_are_input_errors(url: str) -> None:
    with pytest.raises(InputError, match="not a valid URL|http\\(s\\) URL"):
        fetch_image(url, Limits(fetch_urls=True), resolve=lambda h, p: ["93.184.216.34"])


def test_base64() -> None:
    assert from_base64(base64.b64encode(b"abc").decode(), "x") == b"abc"
    assert from_base64("data:image/png;base64," + base64.b64encode(b"abc").decode(), "x") == \
        b"abc"
    with pytest.raises(InputError, match="not valid base64"):
        from_base64("***", "image_base64")


@pytest.mark.parametrize("addr", ["127.0.0.1", "::1", "10.1.2.3", "192.168.0.9",
                                  "169.254.169.254", "0.0.0.0", "::ffff:127.0.0.1", "fe80::1",
                                  "100.64.0.1", "224.0.0.1"])
def test_non_public_addresses_are_refused(addr: str) -> None:
    with pytest.raises(InputError, match=f"{addr.split('::ffff:')[-1]} is a|not a public"):
        check_address(addr)


def test_public_addresses_pass() -> None:
    check_address("93.184.216.34")
    check_address("2606:2800:220:1:248:1893:25c8:1946")


class _Image(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = png()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Any:
    server = HTTPServer(("127.0.0.1", 0), _Image)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_fetching_is_off_unless_enabled(local_server: Any) -> None:
    url = f"http://127.0.0.1:{local_server.server_port}/x.png"
    with pytest.raises(InputError, match="disabled"):
        fetch_image(url, Limits())


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "0x7f000001"])
def test_loopback_urls_are_refused_even_when_enabled(local_server: Any, host: str) -> None:
    url = f"http://{host}:{local_server.server_port}/x.png"
    with pytest.raises(InputError, match="refused|cannot be resolved"):
        fetch_image(url, Limits(fetch_urls=True))


def test_a_name_that_resolves_inside_is_refused(local_server: Any) -> None:
    """DNS may point a public-looking name at a private address: checked after resolving."""
    def resolve(host: str, port: int) -> list[str]:
        return ["8.8.8.8", "10.0.0.5"]

    with pytest.raises(InputError, match="10.0.0.5 is a private address"):
        fetch_image("http://images.example/x.png", Limits(fetch_urls=True), resolve=resolve)


def test_the_fetch_goes_to_the_checked_address(local_server: Any) -> None:
    """With the check passed, the connection goes to the address that was checked, not
    to a second look-up of the name (here the 'public' address is our local server,
    which a resolver stand-in vouches for, to show the bytes arrive and the Host header
    names the URL's host)."""
    import hybrid.search.inputs as inputs

    seen: list[str] = []

    class Spy(_Image):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.headers["Host"])
            super().do_GET()

    local_server.RequestHandlerClass = Spy
    original = inputs.check_address
    inputs.check_address = lambda addr: None  # type: ignore[assignment]
    try:
        data = fetch_image(f"http://shop.example:{local_server.server_port}/x.png",
                           Limits(fetch_urls=True),
                           resolve=lambda host, port: ["127.0.0.1"])
    finally:
        inputs.check_address = original  # type: ignore[assignment]
    assert data == png() and seen == ["shop.example"]


def test_schemes_other_than_http_are_refused() -> None:
    for url in ("file:///etc/passwd", "ftp://x/y", "gopher://x", "http:///nohost"):
        with pytest.raises(InputError, match="http\\(s\\) URL"):
            fetch_image(url, Limits(fetch_urls=True))


def test_unresolvable_host() -> None:
    with pytest.raises(InputError, match="cannot be resolved"):
        fetch_image("http://no-such-host.invalid/x.png", Limits(fetch_urls=True))
    assert socket  # the real resolver was used
