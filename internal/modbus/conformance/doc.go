// Package conformance proves akciz's Modbus implementation (package modbus) against other
// implementations, run as real processes: mbpoll and a small C client and server on libmodbus (the
// reference C implementation), and pymodbus 3.0 as client and server, over Modbus TCP, RTU over TCP
// and RTU on a socat pseudo-terminal pair. It holds only tests and their peers (testdata/); see
// docs/modbus-conformance.md.
//
// Every peer is found with exec.LookPath; a test whose peer is missing is skipped with the name of the
// Debian package to install. CI (.ci/run) installs them all, so there every test runs.
//
// The same test binary drives `make bench-modbus` (tools/bench-modbus.sh): TestBenchClient and
// TestBenchServer run only when their AKCIZ_BENCH_MODBUS_* environment variables are set.
package conformance
