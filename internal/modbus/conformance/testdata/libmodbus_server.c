/*
 * libmodbus_server: a Modbus server on the libmodbus API, the reference peer for akciz's client.
 * libmodbus's own test servers are not packaged by Debian, so the conformance tests and `make
 * bench-modbus` build this one with `gcc libmodbus_server.c $(pkg-config --cflags --libs libmodbus)`.
 *
 *   libmodbus_server --tcp PORT [--host 127.0.0.1]   Modbus TCP, any number of connections (select loop)
 *   libmodbus_server --rtu DEVICE [--baud 9600]      Modbus RTU, 8N1, unit id 1
 *
 * It holds 10000 of each object, with the pattern the Go tests know (see pattern_test.go):
 *   holding register i = i, input register i = 10000 + i, coil i = (i % 3 == 0), discrete input i = (i % 2 == 0).
 * Addresses from 10000 up answer exception 2 (illegal data address), as libmodbus does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <modbus.h>

#define N 10000

static void usage(void) {
	fprintf(stderr, "usage: libmodbus_server --tcp PORT [--host ADDR] | --rtu DEVICE [--baud N]\n");
	exit(2);
}

static modbus_mapping_t *pattern(void) {
	modbus_mapping_t *m = modbus_mapping_new(N, N, N, N);
	if (m == NULL) {
		fprintf(stderr, "libmodbus_server: mapping: %s\n", modbus_strerror(errno));
		exit(1);
	}
	for (int i = 0; i < N; i++) {
		m->tab_registers[i] = (uint16_t)i;
		m->tab_input_registers[i] = (uint16_t)(N + i);
		m->tab_bits[i] = (i % 3 == 0);
		m->tab_input_bits[i] = (i % 2 == 0);
	}
	return m;
}

static int serve_rtu(const char *dev, int baud, modbus_mapping_t *m) {
	modbus_t *ctx = modbus_new_rtu(dev, baud, 'N', 8, 1);
	if (ctx == NULL || modbus_set_slave(ctx, 1) == -1 || modbus_connect(ctx) == -1) {
		fprintf(stderr, "libmodbus_server: %s: %s\n", dev, modbus_strerror(errno));
		return 1;
	}
	uint8_t req[MODBUS_RTU_MAX_ADU_LENGTH];
	for (;;) {
		int n = modbus_receive(ctx, req);
		if (n > 0) {
			modbus_reply(ctx, req, n, m);
		} else if (n == -1 && errno != EMBBADCRC && errno != EMBBADDATA && errno != ETIMEDOUT) {
			/* A pseudo-terminal whose other end closed reads EOF forever: the test is over. */
			fprintf(stderr, "libmodbus_server: receive: %s\n", modbus_strerror(errno));
			return 1;
		}
	}
}

static int serve_tcp(const char *host, int port, modbus_mapping_t *m) {
	modbus_t *ctx = modbus_new_tcp(host, port);
	if (ctx == NULL) {
		fprintf(stderr, "libmodbus_server: %s\n", modbus_strerror(errno));
		return 1;
	}
	int ls = modbus_tcp_listen(ctx, 16);
	if (ls == -1) {
		fprintf(stderr, "libmodbus_server: listen %s:%d: %s\n", host, port, modbus_strerror(errno));
		return 1;
	}
	fd_set all;
	FD_ZERO(&all);
	FD_SET(ls, &all);
	int maxfd = ls;
	uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];
	for (;;) {
		fd_set rd = all;
		if (select(maxfd + 1, &rd, NULL, NULL, NULL) == -1) {
			if (errno == EINTR)
				continue;
			perror("libmodbus_server: select");
			return 1;
		}
		for (int fd = 0; fd <= maxfd; fd++) {
			if (!FD_ISSET(fd, &rd))
				continue;
			if (fd == ls) {
				int c = accept(ls, NULL, NULL);
				if (c == -1)
					continue;
				FD_SET(c, &all);
				if (c > maxfd)
					maxfd = c;
				continue;
			}
			modbus_set_socket(ctx, fd);
			int n = modbus_receive(ctx, req);
			if (n > 0) {
				modbus_reply(ctx, req, n, m);
			} else if (n == -1) {
				/* Closed by the client, or a malformed frame: libmodbus drops the connection. */
				close(fd);
				FD_CLR(fd, &all);
			}
		}
	}
}

int main(int argc, char **argv) {
	const char *host = "127.0.0.1", *dev = NULL;
	int port = -1, baud = 9600;
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (strcmp(argv[i], "--tcp") == 0)
			port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--host") == 0)
			host = argv[++i];
		else if (strcmp(argv[i], "--rtu") == 0)
			dev = argv[++i];
		else if (strcmp(argv[i], "--baud") == 0)
			baud = atoi(argv[++i]);
		else
			usage();
	}
	if ((port < 0) == (dev == NULL))
		usage();
	setvbuf(stdout, NULL, _IONBF, 0);
	modbus_mapping_t *m = pattern();
	return dev ? serve_rtu(dev, baud, m) : serve_tcp(host, port, m);
}
