#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_tcp_input (tests/fuzz/corpus/tcp/*.bin). Each input is one
control byte (see fuzz_tcp_input.cpp) and a TCP segment, or a whole IP packet in raw mode.
Run it again only to change the seeds: python3 tests/fuzz/tcp/make_corpus.py"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from corpus_frames import hexbytes, ipv4, tcp, write_corpus  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "tcp")

V6, RAW, CONN, REL, KEEP_CSUM = 0x01, 0x02, 0x04, 0x08, 0x10
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def raw_v4_syn():
    seg = tcp(40000, 80, 1000, 0, SYN, 65535, hexbytes("020405b4 01030307 0402") + b"\0\0")
    return ipv4(seg, bytes([198, 18, 20, 2]), bytes([198, 18, 20, 1]), ident=1)


TS = hexbytes("0101080a 00001000 00000000")
SYN_OPTS = hexbytes("020405b4 0402080a 00001000 00000000 01030307")
# SACK blocks relative to nothing: with REL the ACK field moves, these stay as given.
SACK = hexbytes("0101050a 00000100 00000200")

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
    write_corpus(OUT, SEEDS)
