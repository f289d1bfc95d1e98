#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_wire (tests/fuzz/corpus/wire/*.bin): a few whole Ethernet
frames as Linux would send them, with correct checksums. Run it again only to change the seeds:
python3 tests/fuzz/wire/make_corpus.py"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "wire")
DST_MAC = bytes.fromhex("020000000002")
SRC_MAC = bytes.fromhex("020000000001")
V4_SRC, V4_DST = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])
V6_SRC = bytes.fromhex("fd000000000000000000000000000001")
V6_DST = bytes.fromhex("fd000000000000000000000000000002")


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp(sport, dport, seq, ack, flags, window, opts=b"", payload=b""):
    hl = 20 + len(opts)
    assert hl % 4 == 0
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (hl // 4) << 4, flags, window, 0, 0) + opts + payload


def with_tcp_csum(seg, pseudo):
    c = csum(pseudo + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def ipv4(seg, frag=0x4000, proto=6):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0x1234, frag, 64, proto, 0, V4_SRC, V4_DST)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    seg = with_tcp_csum(seg, V4_SRC + V4_DST + struct.pack("!BBH", 0, 6, len(seg))) if proto == 6 else seg
    return h + seg


def ipv6(seg, ext=b"", first_next=6):
    h = struct.pack("!IHBB16s16s", 0x60000000, len(ext) + len(seg), first_next, 64, V6_SRC, V6_DST)
    seg = with_tcp_csum(seg, V6_SRC + V6_DST + struct.pack("!I3xB", len(seg), 6))
    return h + ext + seg


def eth(ether_type, payload, vlan=None):
    if vlan is None:
        return DST_MAC + SRC_MAC + struct.pack("!H", ether_type) + payload
    return DST_MAC + SRC_MAC + struct.pack("!HHH", 0x8100, vlan, ether_type) + payload


SYN_OPTS = bytes.fromhex("020405b4 0402080a 0001e240 00000000 01030307".replace(" ", ""))
SYNACK_OPTS = bytes.fromhex("020405b4 0402080a 00bc614e 0001e240 01030307".replace(" ", ""))
SACK_OPTS = bytes.fromhex("0101080a 0001e241 00bc614e 01010512 9abce000 9abce5b4 9abcf000 9abcf5b4".replace(" ", ""))

FRAMES = {
    "v4_syn.bin": eth(0x0800, ipv4(tcp(41652, 80, 0x12345678, 0, 0x02, 64240, SYN_OPTS))),
    "v4_vlan_synack.bin": eth(0x0800, ipv4(tcp(80, 41652, 0x9ABCDEF0, 0x12345679, 0x12, 65160, SYNACK_OPTS)), vlan=100),
    "v4_data_sack.bin": eth(0x0800, ipv4(tcp(41652, 80, 0x12345679, 0x9ABCDEF1, 0x18, 501, SACK_OPTS, b"GET / HTTP/1.0\r\n\r\n"))),
    "v4_fragment.bin": eth(0x0800, ipv4(tcp(41652, 80, 1, 0, 0x02, 1000), frag=0x2000)),
    "v6_syn.bin": eth(0x86DD, ipv6(tcp(41652, 80, 0x12345678, 0, 0x02, 64800, bytes.fromhex("020405a0 0402080a 0001e240 00000000 01030307".replace(" ", ""))))),
    "v6_ext_ack.bin": eth(0x86DD, ipv6(tcp(41652, 80, 2, 3, 0x10, 500), ext=bytes.fromhex("3c00010400000000 0600010400000000"), first_next=0)),
    "arp_request.bin": eth(0x0806, bytes.fromhex("0001080006040001020000000001c6120001000000000000c6120002")),
}

os.makedirs(OUT, exist_ok=True)
for name, frame in FRAMES.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(frame)
print("wrote %d seeds to %s" % (len(FRAMES), os.path.normpath(OUT)))
