#!/usr/bin/python3
"""A pymodbus 3.0 Modbus client, a peer for akciz's server in the conformance tests.

    pymodbus_client.py --tcp HOST:PORT | --rtu-over-tcp HOST:PORT | --rtu DEVICE  [--unit 1]

It expects the server to hold the pattern of pattern_test.go (holding register i = i, input register i =
10000 + i, coil i = (i % 3 == 0), discrete input i = (i % 2 == 0), 10000 of each, nothing above) and runs
every function code akciz serves, 1 2 3 4 5 6 15 16 23, then one exception case, checking each answer. It
prints one "ok ..." line per step and exits 0, or prints "FAIL ..." and exits 1 at the first wrong answer.
The Go test then checks that the writes reached the server's memory. Run it with /usr/bin/python3.
"""
import argparse
import sys

from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.pdu import ExceptionResponse

N = 10000


def check(step, got, want):
    if got != want:
        print(f"FAIL {step}: got {got}, want {want}", flush=True)
        sys.exit(1)
    print(f"ok {step}", flush=True)


def answer(step, rr):
    if rr is None or rr.isError():
        print(f"FAIL {step}: error response {rr}", flush=True)
        sys.exit(1)
    return rr


def main():
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--tcp", metavar="HOST:PORT")
    g.add_argument("--rtu-over-tcp", metavar="HOST:PORT")
    g.add_argument("--rtu", metavar="DEVICE")
    ap.add_argument("--unit", type=int, default=1)
    args = ap.parse_args()
    if args.rtu:
        c = ModbusSerialClient(port=args.rtu, framer=ModbusRtuFramer, baudrate=9600, bytesize=8,
                               parity="N", stopbits=1, timeout=2)
    else:
        host, port = (args.tcp or args.rtu_over_tcp).rsplit(":", 1)
        framer = ModbusRtuFramer if args.rtu_over_tcp else None
        kw = {"framer": framer} if framer else {}
        c = ModbusTcpClient(host, port=int(port), timeout=2, **kw)
    if not c.connect():
        print("FAIL connect", flush=True)
        sys.exit(1)
    u = args.unit

    rr = answer("fc1", c.read_coils(0, 20, slave=u))
    check("fc1 read coils 0..19", rr.bits[:20], [i % 3 == 0 for i in range(20)])
    rr = answer("fc2", c.read_discrete_inputs(5, 11, slave=u))
    check("fc2 read discrete inputs 5..15", rr.bits[:11], [(5 + i) % 2 == 0 for i in range(11)])
    rr = answer("fc3", c.read_holding_registers(100, 125, slave=u))
    check("fc3 read 125 holding registers 100..224", rr.registers, list(range(100, 225)))
    rr = answer("fc4", c.read_input_registers(N - 10, 10, slave=u))
    check("fc4 read input registers 9990..9999", rr.registers, [N + i for i in range(N - 10, N)])

    answer("fc5", c.write_coil(1, True, slave=u))
    rr = answer("fc5 read back", c.read_coils(0, 3, slave=u))
    check("fc5 write coil 1", rr.bits[:3], [True, True, False])
    answer("fc6", c.write_register(200, 0xBEEF, slave=u))
    rr = answer("fc6 read back", c.read_holding_registers(200, 1, slave=u))
    check("fc6 write register 200", rr.registers, [0xBEEF])
    coils = [True, False, True, True, False, False, True, True, True, False]
    answer("fc15", c.write_coils(30, coils, slave=u))
    rr = answer("fc15 read back", c.read_coils(30, 10, slave=u))
    check("fc15 write coils 30..39", rr.bits[:10], coils)
    answer("fc16", c.write_registers(300, [1, 2, 3, 0xFFFF], slave=u))
    rr = answer("fc16 read back", c.read_holding_registers(300, 4, slave=u))
    check("fc16 write registers 300..303", rr.registers, [1, 2, 3, 0xFFFF])
    # FC 23 writes before it reads (Modbus Application Protocol v1.1b3, §6.17).
    rr = answer("fc23", c.readwrite_registers(read_address=300, read_count=4, write_address=302,
                                               write_registers=[7, 8], unit=u))
    check("fc23 read/write registers 300..303", rr.registers, [1, 2, 7, 8])

    rr = c.read_holding_registers(N - 1, 2, slave=u)
    got = (rr.function_code, rr.exception_code) if isinstance(rr, ExceptionResponse) else rr
    check("exception: read holding registers 9999..10000", got, (0x83, 2))
    c.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
