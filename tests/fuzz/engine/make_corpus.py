#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_engine_input (tests/fuzz/corpus/engine/*.bin). Each input is a
control byte and an argument byte (see fuzz_engine_input.cpp), then a TCP segment, an IP packet or
a whole Ethernet frame. Run it again only to change the seeds: python3 tests/fuzz/engine/make_corpus.py"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from corpus_frames import hexbytes, ipv4, tcp, write_corpus  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "engine")

RAW, IP, CONN, LISTEN = 0, 1, 2, 3
Q1, REL, KEEP_CSUM, VLAN, REHASH, LATER = 0x04, 0x08, 0x10, 0x20, 0x40, 0x80
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

SYN_OPTS = hexbytes("020405b4 0402080a 00001000 00000000 01030307")
SACK = hexbytes("0101050a 00000100 00000200")
ETH = hexbytes("020000000001 020000000002")


def eth(payload, ethertype=b"\x08\x00"):
    return ETH + ethertype + payload


V4_SYN = ipv4(tcp(41000, 80, 0x1000, 0, SYN, 64240, SYN_OPTS), bytes([198, 18, 30, 2]), bytes([198, 18, 30, 1]), ident=1)

SEEDS = {
    "raw_v4_syn_q0.bin": bytes([RAW, 0]) + eth(V4_SYN),
    "raw_v4_syn_q1_vlan.bin": bytes([RAW | Q1, 0]) + ETH + hexbytes("8100 0007 0800") + V4_SYN,
    "raw_arp.bin": bytes([RAW, 0]) + ETH + hexbytes("0806 0001 0800 0604 0001") + b"\0" * 20,
    "ip_v4_syn.bin": bytes([IP, 0]) + V4_SYN,
    "listen_syn.bin": bytes([LISTEN, 0]) + tcp(41001, 0, 0x2000, 0, SYN, 64240, SYN_OPTS),
    "listen_syn_v6_q1.bin": bytes([LISTEN | Q1, 1]) + tcp(41002, 0, 0x2000, 0, SYN, 64240, SYN_OPTS),
    "listen_blind_ack.bin": bytes([LISTEN | Q1, 0]) + tcp(41003, 0, 0x3000, 0x4000, ACK, 512),
    "conn0_data.bin": bytes([CONN | REL, 0]) + tcp(0, 0, 0, 0, ACK | PSH, 1024, payload=b"x" * 100),
    "conn0_data_other_queue.bin": bytes([CONN | REL | Q1, 0]) + tcp(0, 0, 0, 0, ACK | PSH, 1024, payload=b"x" * 100),
    "conn1_v6_data_rehash.bin": bytes([CONN | REL | REHASH, 1]) + tcp(0, 0, 0, 0, ACK | PSH, 1024, payload=b"z" * 64),
    "conn2_active_ack_q1.bin": bytes([CONN | REL | Q1, 2]) + tcp(0, 0, 0, 0, ACK, 1024, SACK),
    "conn2_fin.bin": bytes([CONN | REL, 2]) + tcp(0, 0, 0, 0, ACK | FIN, 1024),
    "conn0_rst_vlan.bin": bytes([CONN | REL | VLAN, 0]) + tcp(0, 0, 0, 0, RST, 0),
    "conn0_bad_csum_later.bin": bytes([CONN | REL | KEEP_CSUM | LATER, 0]) + tcp(0, 0, 0, 0, ACK, 1024, payload=b"q"),
}

if __name__ == "__main__":
    write_corpus(OUT, SEEDS)
