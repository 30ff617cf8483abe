#!/usr/bin/python3
"""A pymodbus 3.0 Modbus server, a peer for akciz's client in the conformance tests.

    pymodbus_server.py --tcp PORT            Modbus TCP on 127.0.0.1:PORT
    pymodbus_server.py --rtu-over-tcp PORT   RTU frames over TCP on 127.0.0.1:PORT
    pymodbus_server.py --rtu DEVICE          Modbus RTU, 9600 8N1, on a serial device (a socat pty)

It holds 10000 objects of each table, with the pattern the Go tests know (pattern_test.go):
holding register i = i, input register i = 10000 + i, coil i = (i % 3 == 0), discrete input i = (i % 2 == 0).
It answers every unit id. Run it with Debian's /usr/bin/python3 (python3-pymodbus).
"""
import argparse
import logging

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.framer.rtu_framer import ModbusRtuFramer
from pymodbus.server import StartSerialServer, StartTcpServer

N = 10000


def context():
    # zero_mode=True: request address 0 is block index 0 (without it pymodbus adds 1 to every address).
    slave = ModbusSlaveContext(
        hr=ModbusSequentialDataBlock(0, list(range(N))),
        ir=ModbusSequentialDataBlock(0, [N + i for i in range(N)]),
        co=ModbusSequentialDataBlock(0, [i % 3 == 0 for i in range(N)]),
        di=ModbusSequentialDataBlock(0, [i % 2 == 0 for i in range(N)]),
        zero_mode=True,
    )
    return ModbusServerContext(slaves=slave, single=True)


def main():
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--tcp", type=int, metavar="PORT")
    g.add_argument("--rtu-over-tcp", type=int, metavar="PORT")
    g.add_argument("--rtu", metavar="DEVICE")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.tcp is not None:
        StartTcpServer(context=context(), address=("127.0.0.1", args.tcp))
    elif args.rtu_over_tcp is not None:
        StartTcpServer(context=context(), address=("127.0.0.1", args.rtu_over_tcp), framer=ModbusRtuFramer)
    else:
        StartSerialServer(context=context(), framer=ModbusRtuFramer, port=args.rtu,
                          baudrate=9600, bytesize=8, parity="N", stopbits=1)


if __name__ == "__main__":
    main()
