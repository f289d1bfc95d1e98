#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_wire (tests/fuzz/corpus/wire/*.bin): a few whole Ethernet
frames as Linux would send them, with correct checksums. Run it again only to change the seeds:
python3 tests/fuzz/wire/make_corpus.py"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import corpus_frames  # noqa: E402
from corpus_frames import hexbytes, tcp, write_corpus  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus", "wire")
DST_MAC = bytes.fromhex("020000000002")
SRC_MAC = bytes.fromhex("020000000001")
V4_SRC, V4_DST = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])
V6_SRC = bytes.fromhex("fd000000000000000000000000000001")
V6_DST = bytes.fromhex("fd000000000000000000000000000002")


def ipv4(seg, frag=0x4000, proto=6):
    return corpus_frames.ipv4(seg, V4_SRC, V4_DST, frag=frag, proto=proto)


def ipv6(seg, ext=b"", first_next=6):
    return corpus_frames.ipv6(seg, V6_SRC, V6_DST, ext=ext, first_next=first_next)


def eth(ether_type, payload, vlan=None):
    if vlan is None:
        return DST_MAC + SRC_MAC + struct.pack("!H", ether_type) + payload
    return DST_MAC + SRC_MAC + struct.pack("!HHH", 0x8100, vlan, ether_type) + payload


SYN_OPTS = hexbytes("020405b4 0402080a 0001e240 00000000 01030307")
SYNACK_OPTS = hexbytes("020405b4 0402080a 00bc614e 0001e240 01030307")
SACK_OPTS = hexbytes("0101080a 0001e241 00bc614e 01010512 9abce000 9abce5b4 9abcf000 9abcf5b4")

FRAMES = {
    "v4_syn.bin": eth(0x0800, ipv4(tcp(41652, 80, 0x12345678, 0, 0x02, 64240, SYN_OPTS))),
    "v4_vlan_synack.bin": eth(0x0800, ipv4(tcp(80, 41652, 0x9ABCDEF0, 0x12345679, 0x12, 65160, SYNACK_OPTS)), vlan=100),
    "v4_data_sack.bin": eth(0x0800, ipv4(tcp(41652, 80, 0x12345679, 0x9ABCDEF1, 0x18, 501, SACK_OPTS, b"GET / HTTP/1.0\r\n\r\n"))),
    "v4_fragment.bin": eth(0x0800, ipv4(tcp(41652, 80, 1, 0, 0x02, 1000), frag=0x2000)),
    "v6_syn.bin": eth(0x86DD, ipv6(tcp(41652, 80, 0x12345678, 0, 0x02, 64800, hexbytes("020405a0 0402080a 0001e240 00000000 01030307")))),
    "v6_ext_ack.bin": eth(0x86DD, ipv6(tcp(41652, 80, 2, 3, 0x10, 500), ext=bytes.fromhex("3c00010400000000 0600010400000000"), first_next=0)),
    "arp_request.bin": eth(0x0806, bytes.fromhex("0001080006040001020000000001c6120001000000000000c6120002")),
}

if __name__ == "__main__":
    write_corpus(OUT, FRAMES)
