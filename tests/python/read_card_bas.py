#!/usr/bin/env python3
"""Calls libsscard's iReadCardBas through ctypes, as Python counter software
does, and decodes the GBK answer the way those callers do.

    read_card_bas.py [LIBRARY]    (default: libsscard.so.1, found through
                                   LD_LIBRARY_PATH and the system's paths)

Prints one JSON object: the return code, the eleven fields as text, and the
name's GBK bytes in hex. Used by tests/libsscard.rs.
"""

import ctypes
import json
import sys

OUT_SIZE = 1024


def main():
    lib = ctypes.CDLL(sys.argv[1] if len(sys.argv) > 1 else "libsscard.so.1")
    read_card_bas = lib.iReadCardBas
    read_card_bas.argtypes = [ctypes.c_int, ctypes.c_char_p]
    read_card_bas.restype = ctypes.c_long
    out = ctypes.create_string_buffer(OUT_SIZE)
    rc = read_card_bas(3, out)
    raw = out.value
    text = raw.decode("gbk")
    fields = text.split("|")
    if rc == 0:
        if len(fields) != 12 or fields[-1] != "":
            raise SystemExit("not eleven fields each followed by |: %r" % text)
        fields = fields[:-1]
    name_gbk = fields[4].encode("gbk").hex().upper() if rc == 0 else ""
    print(json.dumps({"rc": rc, "fields": fields, "text": text, "name_gbk": name_gbk}, ensure_ascii=False))


if __name__ == "__main__":
    main()
