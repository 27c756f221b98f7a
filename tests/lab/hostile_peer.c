/* hostile_peer: the attacker side of tests/lab/test_hostile.sh, on loopback.
 *   frames ADDR:PORT CONNS SECONDS [NAME]: CONNS connections each declare a
 *     largest BATCH frame (after a HELLO for NAME when given) and push its
 *     bytes as fast as the collector reads them, for at most SECONDS.
 *   hold ADDR:PORT CONNS SECONDS: open CONNS idle connections, print "open N",
 *     hold them SECONDS (or until killed).
 * Prints what happened; exit 0 unless it could not start. */
#include "wire.h"
#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PEERS_MAX 4096

static int peer_connect(const char *spec)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char host[64];
	const char *colon = strrchr(spec, ':');
	int fd;

	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return -1;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	sa.sin_port = htons((uint16_t)atoi(colon + 1));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The start of one connection's attack: optional HELLO, then the header of
 * a BATCH declaring WIRE_FRAME_MAX payload bytes. */
static size_t attack_head(uint8_t *out, const char *name)
{
	static const uint8_t batch_hdr[WIRE_HEADER_LEN] = {
		'F', 'M', 'R', '1', 0, WIRE_VERSION, 0, WIRE_BATCH,
		(uint8_t)(WIRE_FRAME_MAX >> 24), (uint8_t)(WIRE_FRAME_MAX >> 16),
		(uint8_t)(WIRE_FRAME_MAX >> 8), (uint8_t)WIRE_FRAME_MAX, 0, 0, 0, 0
	};
	size_t n = 0;

	if (name) {
		uint8_t *hello;
		size_t hl;

		if (wire_hello_encode(name, &hello, &hl) == 0) {
			memcpy(out, hello, hl);
			n = hl;
			free(hello);
		}
	}
	memcpy(out + n, batch_hdr, sizeof(batch_hdr));
	return n + sizeof(batch_hdr);
}

static int frames_run(const char *where, int conns, int seconds, const char *name_base)
{
	static uint8_t zeros[65536];
	int fds[PEERS_MAX];
	size_t sent[PEERS_MAX];
	int64_t deadline = clock_mono_ms() + seconds * 1000LL;
	unsigned long long total = 0;
	int i, open_n = 0, closed = 0;

	for (i = 0; i < conns; i++) {
		uint8_t head[256];
		char name[WIRE_NAME_MAX];
		size_t hl;

		snprintf(name, sizeof(name), "%s%d", name_base ? name_base : "", i);
		hl = attack_head(head, name_base ? name : NULL);
		fds[i] = peer_connect(where);
		sent[i] = 0;
		if (fds[i] < 0)
			continue;
		if (send(fds[i], head, hl, MSG_NOSIGNAL) != (ssize_t)hl) {
			close(fds[i]);
			fds[i] = -1;
			continue;
		}
		fcntl(fds[i], F_SETFL, O_NONBLOCK);
		open_n++;
	}
	if (!open_n) {
		fprintf(stderr, "hostile_peer: cannot connect to %s\n", where);
		return 1;
	}
	while (clock_mono_ms() < deadline && open_n > 0) {
		struct pollfd pfd[PEERS_MAX];

		for (i = 0; i < conns; i++) {
			pfd[i].fd = fds[i];
			pfd[i].events = POLLOUT;
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)conns, 200) < 0)
			break;
		for (i = 0; i < conns; i++) {
			ssize_t w;

			if (fds[i] < 0 || !(pfd[i].revents & (POLLOUT | POLLERR | POLLHUP)))
				continue;
			w = send(fds[i], zeros,
				 WIRE_FRAME_MAX - sent[i] < sizeof(zeros) ? WIRE_FRAME_MAX - sent[i]
									   : sizeof(zeros),
				 MSG_NOSIGNAL);
			if (w > 0) {
				sent[i] += (size_t)w;
				total += (unsigned long long)w;
			}
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || sent[i] >= WIRE_FRAME_MAX) {
				closed += w < 0;
				close(fds[i]);
				fds[i] = -1;
				open_n--;
			}
		}
	}
	for (i = 0; i < conns; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	printf("frames: %d connections, %llu payload bytes sent, %d cut by the collector\n", conns,
	       total, closed);
	return 0;
}

static int hold_run(const char *where, int conns, int seconds)
{
	int i, n = 0;

	for (i = 0; i < conns; i++)
		if (peer_connect(where) >= 0)
			n++;
	printf("open %d\n", n);
	fflush(stdout);
	sleep((unsigned)seconds); /* the fds close at exit */
	return n ? 0 : 1;
}

int main(int argc, char **argv)
{
	int conns, seconds;

	if (argc < 5) {
		fprintf(stderr, "usage: hostile_peer frames|hold ADDR:PORT CONNS SECONDS [NAME]\n");
		return 2;
	}
	conns = atoi(argv[3]);
	seconds = atoi(argv[4]);
	if (conns < 1 || conns > PEERS_MAX || seconds < 1 || seconds > 600) {
		fprintf(stderr, "hostile_peer: CONNS 1-%d, SECONDS 1-600\n", PEERS_MAX);
		return 2;
	}
	if (!strcmp(argv[1], "frames"))
		return frames_run(argv[2], conns, seconds, argc > 5 ? argv[5] : NULL);
	if (!strcmp(argv[1], "hold"))
		return hold_run(argv[2], conns, seconds);
	fprintf(stderr, "hostile_peer: unknown mode %s\n", argv[1]);
	return 2;
}
