"""Frame building shared by the fuzzers' seed-corpus scripts (tests/fuzz/*/make_corpus.py): TCP
segments, the Internet checksum (RFC 1071), IPv4/IPv6 headers with the TCP checksum filled in over
the pseudo-header (RFC 9293 §3.1), and writing the seeds out."""
import os
import struct


def hexbytes(s):
    """bytes from hex written in groups: "020405b4 0402" -> b"\\x02\\x04\\x05\\xb4\\x04\\x02"."""
    return bytes.fromhex(s.replace(" ", ""))


def tcp(sport, dport, seq, ack, flags, window, opts=b"", payload=b""):
    """A TCP segment with a zero checksum; options must fill whole 32-bit words."""
    hl = 20 + len(opts)
    assert hl % 4 == 0
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (hl // 4) << 4, flags, window, 0, 0) + opts + payload


def csum(b):
    """The Internet checksum (RFC 1071) of b."""
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def with_tcp_csum(seg, pseudo):
    """seg with its checksum computed over the pseudo-header bytes and the segment."""
    return seg[:16] + struct.pack("!H", csum(pseudo + seg)) + seg[18:]


def ipv4(seg, src, dst, ident=0x1234, frag=0x4000, proto=6):
    """An IPv4 packet (no options, TTL 64) carrying seg; a TCP seg gets its checksum."""
    if proto == 6:
        seg = with_tcp_csum(seg, src + dst + struct.pack("!BBH", 0, 6, len(seg)))
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), ident, frag, 64, proto, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + seg


def ipv6(seg, src, dst, ext=b"", first_next=6):
    """An IPv6 packet (hop limit 64) carrying the extension headers ext and then the TCP seg."""
    h = struct.pack("!IHBB16s16s", 0x60000000, len(ext) + len(seg), first_next, 64, src, dst)
    seg = with_tcp_csum(seg, src + dst + struct.pack("!I3xB", len(seg), 6))
    return h + ext + seg


def write_corpus(out, seeds):
    """Writes every name -> bytes of seeds into the folder out and says so."""
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(seeds), os.path.normpath(out)))
