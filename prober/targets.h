/* The targets file (schemas/targets.md v1): one target per line with its
 * flows, rate, DSCP class, probe kind and port. */
#ifndef FM_TARGETS_H
#define FM_TARGETS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define TARGETS_FLOWS_MAX 256
#define TARGETS_HOST_MAX 256

struct probe_ops;

struct target_spec {
	char host[TARGETS_HOST_MAX];   /* as written in the file */
	struct sockaddr_storage addr;  /* resolved, port = the responder's */
	int family;                    /* AF_INET or AF_INET6 */
	unsigned flows;                /* flows (source ports), 1..TARGETS_FLOWS_MAX */
	int flows_auto;                /* no flows= on the line: grown by coverage */
	double rate_pps;               /* probes per second over all its flows */
	uint8_t dscp;                  /* 0..63 */
	uint16_t port;                 /* responder port */
	const struct probe_ops *kind;  /* udp or tcp */
};

/* Defaults for keys a line leaves out (from the command line). */
struct targets_defaults {
	unsigned flows;
	double rate_pps;
	uint8_t dscp;
	uint16_t port;
	const struct probe_ops *kind;
	int numeric_only; /* addresses only, no name lookups (lists from the network) */
};

/* Parse text (the file's contents) into a malloc'd array. Returns 0 and sets
 * *out and *n, or -1 with "NAME:LINE: reason" in err. Names are resolved with
 * getaddrinfo. */
int targets_parse(const char *text, size_t len, const char *name,
		  const struct targets_defaults *def, struct target_spec **out,
		  size_t *n, char *err, size_t errlen);
/* Read and parse a file; same contract. */
int targets_load(const char *path, const struct targets_defaults *def,
		 struct target_spec **out, size_t *n, char *err, size_t errlen);

#endif
