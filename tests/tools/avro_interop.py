#!/usr/bin/python3
"""Interop helper for tests/unit/test_codec_interop.c: Apache's Python Avro
on the other side of the project's C codec.

  avro_interop.py check
      exit 0 when the avro module is importable, 3 when it is not.
  avro_interop.py decode SCHEMA.avsc FILE
      decode one record (Confluent-framed or plain) written by the C codec and
      print it as one JSON line, keys sorted; timestamps as epoch ms.
  avro_interop.py write-orders V1.avsc V2.avsc PLAIN_OUT FRAMED_OUT
      write one orders event as plain Avro with V1, and framed (schema id 101)
      with V2, which adds coupon_code.

Run it with /usr/bin/python3 (Debian's python3-avro), not a pyenv python.
"""
import datetime
import io
import json
import struct
import sys

try:
    import avro.io
    import avro.schema
except ImportError:  # the C test turns this into a visible skip
    avro = None

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
T0_MS = 1767434400000  # 2026-01-03T10:00:00Z


def load_schema(path):
    with open(path, encoding="utf-8") as f:
        return avro.schema.parse(f.read())


def to_plain(value):
    """JSON-friendly form: datetimes become epoch milliseconds."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        delta = value - EPOCH
        return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


def ts(ms):
    return EPOCH + datetime.timedelta(milliseconds=ms)


def decode(schema_path, data_path):
    schema = load_schema(schema_path)
    with open(data_path, "rb") as f:
        data = f.read()
    if data[:1] == b"\x00":
        (schema_id,) = struct.unpack(">I", data[1:5])
        data = data[5:]
    buf = io.BytesIO(data)
    record = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(buf))
    if buf.tell() != len(data):
        sys.exit(f"{len(data) - buf.tell()} trailing bytes")
    print(json.dumps(to_plain(record), sort_keys=True, separators=(",", ":")))


def encode(schema, record):
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(record, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def write_orders(v1_path, v2_path, plain_out, framed_out):
    record = {
        "event_id": "py-ev-1",
        "customer_id": "py-cust",
        "type": "subscription_renewed",
        "occurred_at": ts(T0_MS),
        "order_id": "py-ord",
        "total_cents": 4200,
        "currency": "SEK",
        "items": [
            {"sku": "p-1", "product_family": "tea", "category": "leaves",
             "unit_price_cents": 2100, "quantity": 2},
        ],
        "renewal_at": ts(T0_MS + 365 * 86400000),
        "account_owner": None,
    }
    with open(plain_out, "wb") as f:
        f.write(encode(load_schema(v1_path), record))
    record["coupon_code"] = "PY-10"
    with open(framed_out, "wb") as f:
        f.write(b"\x00" + struct.pack(">I", 101) + encode(load_schema(v2_path), record))


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    if avro is None:
        print("python avro module not available", file=sys.stderr)
        return 3
    if argv[1] == "check":
        return 0
    if argv[1] == "decode" and len(argv) == 4:
        decode(argv[2], argv[3])
        return 0
    if argv[1] == "write-orders" and len(argv) == 6:
        write_orders(*argv[2:6])
        return 0
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
