#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_tcp_input (tests/fuzz/corpus/tcp/*.bin). Each input is one
control byte (see fuzz_tcp_input.cpp) and a TCP segment, or a whole IP packet in raw mode.
Run it again only to change the seeds: python3 tests/fuzz/tcp/make_corpus.py"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "tcp")

V6, RAW, CONN, REL, KEEP_CSUM = 0x01, 0x02, 0x04, 0x08, 0x10
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def tcp(sport, dport, seq, ack, flags, window, opts=b"", payload=b""):
    hl = 20 + len(opts)
    assert hl % 4 == 0
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (hl // 4) << 4, flags, window, 0, 0) + opts + payload


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def raw_v4_syn():
    src, dst = bytes([198, 18, 20, 2]), bytes([198, 18, 20, 1])
    seg = tcp(40000, 80, 1000, 0, SYN, 65535, bytes.fromhex("020405b4 01030307 0402".replace(" ", "")) + b"\0\0")
    seg = seg[:16] + struct.pack("!H", csum(src + dst + struct.pack("!BBH", 0, 6, len(seg)) + seg)) + seg[18:]
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 1, 0x4000, 64, 6, 0, src, dst)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + seg


TS = bytes.fromhex("0101080a 00001000 00000000".replace(" ", ""))
SYN_OPTS = bytes.fromhex("020405b4 0402080a 00001000 00000000 01030307".replace(" ", ""))
# SACK blocks relative to nothing: with REL the ACK field moves, these stay as given.
SACK = bytes.fromhex("0101050a 00000100 00000200".replace(" ", ""))

SEEDS = {
    "listen_syn_v4.bin": bytes([0]) + tcp(41000, 0, 0x1000, 0, SYN, 64240, SYN_OPTS),
    "listen_syn_v6.bin": bytes([V6]) + tcp(41001, 0, 0x2000, 0, SYN, 64240, SYN_OPTS),
    "listen_bare_ack.bin": bytes([0]) + tcp(41002, 0, 0x3000, 0x4000, ACK, 512),
    "conn_data_in_order.bin": bytes([CONN | REL]) + tcp(0, 0, 0, 0, ACK | PSH, 1024, payload=b"x" * 100),
    "conn_data_ahead.bin": bytes([CONN | REL]) + tcp(0, 0, 1460, 0, ACK, 1024, payload=b"y" * 200),
    "conn_data_v6.bin": bytes([V6 | CONN | REL]) + tcp(0, 0, 0, 0, ACK | PSH, 1024, payload=b"z" * 64),
    "conn_fin.bin": bytes([CONN | REL]) + tcp(0, 0, 0, 0, ACK | FIN, 1024),
    "conn_rst.bin": bytes([CONN | REL]) + tcp(0, 0, 0, 0, RST, 0),
    "conn_rst_off.bin": bytes([CONN | REL]) + tcp(0, 0, 5, 0, RST | ACK, 0),
    "conn_syn.bin": bytes([CONN | REL]) + tcp(0, 0, 0, 0, SYN, 1024, SYN_OPTS),
    "conn_dup_ack_sack.bin": bytes([CONN | REL]) + tcp(0, 0, 0, 0, ACK, 1024, SACK),
    "conn_zero_window.bin": bytes([CONN | REL | (3 << 5)]) + tcp(0, 0, 0, 0, ACK, 0, TS),
    "conn_bad_csum.bin": bytes([CONN | REL | KEEP_CSUM]) + tcp(0, 0, 0, 0, ACK, 1024, payload=b"q"),
    "raw_v4_syn.bin": bytes([RAW]) + raw_v4_syn(),
}

if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), os.path.normpath(OUT)))
