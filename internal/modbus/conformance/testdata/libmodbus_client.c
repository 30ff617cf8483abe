/*
 * libmodbus_client: the reference Modbus TCP client on the libmodbus API. It reads COUNT holding registers
 * from ADDR again and again, one request at a time (libmodbus has no pipelining), for SECONDS, and prints
 * how many requests per second it completed. `make bench-modbus` and the conformance tests build it with
 * `gcc libmodbus_client.c $(pkg-config --cflags --libs libmodbus)`.
 *
 *   libmodbus_client HOST PORT COUNT SECONDS [ADDR] [--check]
 *
 * --check compares every response with the pattern of pattern_test.go (holding register i = i) and fails on
 * the first difference. The last line of output is: requests=R seconds=S reads_per_s=X cpu_us=C, C being
 * the processor time (user and system) the reading loop took.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <modbus.h>

/* cpu is the processor time this process has used, user and system, in microseconds. */
static double cpu(void) {
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	if (argc < 5) {
		fprintf(stderr, "usage: libmodbus_client HOST PORT COUNT SECONDS [ADDR] [--check]\n");
		return 2;
	}
	const char *host = argv[1];
	int port = atoi(argv[2]), count = atoi(argv[3]), addr = 0, check = 0;
	double seconds = atof(argv[4]);
	for (int i = 5; i < argc; i++) {
		if (strcmp(argv[i], "--check") == 0)
			check = 1;
		else
			addr = atoi(argv[i]);
	}
	if (count < 1 || count > MODBUS_MAX_READ_REGISTERS || seconds <= 0) {
		fprintf(stderr, "libmodbus_client: COUNT must be 1..%d and SECONDS > 0\n", MODBUS_MAX_READ_REGISTERS);
		return 2;
	}
	modbus_t *ctx = modbus_new_tcp(host, port);
	if (ctx == NULL || modbus_connect(ctx) == -1) {
		fprintf(stderr, "libmodbus_client: connect %s:%d: %s\n", host, port, modbus_strerror(errno));
		return 1;
	}
	modbus_set_response_timeout(ctx, 10, 0);
	uint16_t regs[MODBUS_MAX_READ_REGISTERS];
	long n = 0;
	double cpu0 = cpu(), start = now(), end = start + seconds, t = start;
	while (t < end) {
		/* The clock is read every 64 requests so that clock_gettime stays out of the measurement. */
		for (int k = 0; k < 64; k++) {
			if (modbus_read_registers(ctx, addr, count, regs) != count) {
				fprintf(stderr, "libmodbus_client: read %d registers at %d: %s\n", count, addr, modbus_strerror(errno));
				return 1;
			}
			if (check) {
				for (int i = 0; i < count; i++) {
					if (regs[i] != (uint16_t)(addr + i)) {
						fprintf(stderr, "libmodbus_client: register %d = %u, want %u\n", addr + i, regs[i], (uint16_t)(addr + i));
						return 1;
					}
				}
			}
			n++;
		}
		t = now();
	}
	double elapsed = t - start;
	printf("requests=%ld seconds=%.3f reads_per_s=%.0f cpu_us=%.0f\n", n, elapsed, n / elapsed, cpu() - cpu0);
	modbus_close(ctx);
	modbus_free(ctx);
	return 0;
}
