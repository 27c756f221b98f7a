/* prober: entry point; parses flags from the option table, resolves the
 * defaults that depend on the host, and hands the config to the daemon
 * (daemon.c). */
#include "daemon.h"
#include "log.h"
#include "name.h"
#include "opts.h"
#include "targets.h"
#include "wire.h"

#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#define O(f) offsetof(struct prober_cfg, f)
static const struct opt_spec prober_opts[] = {
	{ "targets", 't', OPT_STR, O(targets), 0, 0, NULL, "FILE", "targets file (schemas/targets.md); none: only respond" },
	{ "collector", 'c', OPT_STR, O(collector), 0, 0, NULL, "ADDR:PORT[,ADDR:PORT...]",
	  "collector to send batches to; with several, fail over to the next when one is down" },
	{ "targets-from-collector", 0, OPT_FLAG, O(targets_from_collector), 0, 0, NULL, NULL,
	  "the targets are the collector's plan for this prober (needs --collector)" },
	{ "targets-refresh", 0, OPT_MS, O(targets_refresh_ms), 0, 86400000, "10m", "DURATION",
	  "re-read the targets file or re-fetch the plan this often, and on SIGHUP (0: SIGHUP only); a changed list applies from the next interval" },
	{ "name", 'n', OPT_STR, O(name), 0, 0, NULL, "NAME", "prober name in reports (default: the host name and an id kept in the spool dir's 'name' file, written on first start)" },
	{ "spool", 0, OPT_STR, O(spool), 0, 0, "/var/spool/faultmesh", "DIR", "spool directory for unacknowledged batches" },
	{ "spool-max-bytes", 0, OPT_INT, O(spool_max_bytes), 4096, 1e12, "67108864", "N", "spool size bound; oldest batches dropped beyond" },
	{ "key", 0, OPT_STR, O(key), 0, 0, NULL, "HEX", "shared key: sign wire frames (HMAC-SHA256)" },
	{ "interval", 0, OPT_MS, O(interval_ms), 200, 3600000, "10s", "DURATION", "reporting interval" },
	{ "jitter", 0, OPT_DOUBLE, O(jitter), 0, 0.5, "0.1", "FRACTION", "random +- share of each interval" },
	{ "flows", 'f', OPT_INT, O(flows), 1, TARGETS_FLOWS_MAX, "16", "N", "initial flows (source ports) per target; grown to the 95% MDA coverage bound unless flows= is set" },
	{ "rate", 'r', OPT_DOUBLE, O(rate), 0.01, 100000, "10", "PPS", "default probes per second per target" },
	{ "dscp", 0, OPT_INT, O(dscp), 0, 63, "0", "N", "default DSCP of probes" },
	{ "proto", 'p', OPT_STR, O(proto), 0, 0, "udp", "KIND", "default probe kind: udp or tcp" },
	{ "port", 0, OPT_INT, O(port), 1, 65535, "31338", "PORT", "default responder port of targets" },
	{ "sport-base", 0, OPT_INT, O(sport_base), 1024, 65535 - TARGETS_FLOWS_MAX, "40000", "PORT", "source port of flow 0 (flow i: +i)" },
	{ "pps-max", 0, OPT_DOUBLE, O(pps_max), 1, 1e7, "5000", "PPS", "global cap on probes per second" },
	{ "timeout", 0, OPT_MS, O(timeout_ms), 10, 4000, "1s", "DURATION", "a reply later than this counts as lost" },
	{ "down-intervals", 0, OPT_INT, O(down_intervals), 1, 1000, "3", "N", "silent intervals on all flows before a target is down" },
	{ "listen-port", 0, OPT_INT, O(listen_port), 1, 65535, "31338", "PORT", "responder UDP port" },
	{ "tcp-port", 0, OPT_INT, O(tcp_port), 0, 65535, "0", "PORT", "responder TCP port for SYN probes (0: off)" },
	{ "responder-rate", 0, OPT_DOUBLE, O(resp_rate), 1, 1e7, "2000", "PPS", "responder answers per second per source" },
	{ "responder-burst", 0, OPT_DOUBLE, O(resp_burst), 1, 1e7, "500", "N", "responder burst per source" },
	{ "responder-global-rate", 0, OPT_DOUBLE, O(resp_global_rate), 0, 1e8, "0", "PPS",
	  "responder answers per second, all sources together (0: the default, README Security)" },
	{ "responder-global-burst", 0, OPT_DOUBLE, O(resp_global_burst), 0, 1e8, "0", "N",
	  "responder burst, all sources together (0: the default)" },
	{ "no-responder", 0, OPT_FLAG, O(no_responder), 0, 0, NULL, NULL, "do not answer probes" },
	{ "no-ipv6", 0, OPT_FLAG, O(no_ipv6), 0, 0, NULL, NULL, "responder answers IPv4 only" },
	{ "keep-caps", 0, OPT_FLAG, O(keep_caps), 0, 0, NULL, NULL, "keep all capabilities (debugging)" },
	{ "duration", 0, OPT_MS, O(duration_ms), 0, 1e12, "0", "DURATION", "exit after this long (0: run until SIGTERM)" },
	{ "trace-interval", 0, OPT_MS, O(trace_ms), 0, 86400000, "5m", "DURATION", "trace every flow's path this often, jittered (0: no tracing)" },
	{ "trace-lossy-after", 0, OPT_MS, O(trace_lossy_ms), 0, 86400000, "30s", "DURATION", "re-trace a flow that loses if its path is older than this" },
	{ "trace-busy", 0, OPT_INT, O(trace_busy), 1, 4096, "32", "N", "flows being traced at once" },
	{ "trace-router-interval", 0, OPT_MS, O(trace_router_ms), 0, 60000, "1s", "DURATION", "trace probes answered by one router: one per this after a burst of 6, Linux's ICMP limit (0: unpaced, for routers without one)" },
	{ "dump", 0, OPT_STR, O(dump), 0, 0, NULL, "FILE", "on SIGUSR1 and at exit, write the lossy flows' packets (probes, replies, traces) here as pcap (default on SIGUSR1: SPOOL/dump.pcap)" },
	{ "dump-ring", 0, OPT_INT, O(dump_ring), 0, 1 << 22, "8192", "N", "packets kept for a dump, newest win (240 bytes each; 0: no dumps)" },
	{ "dump-span", 0, OPT_MS, O(dump_span_ms), 1000, 3600000, "60s", "DURATION", "a dump covers this last stretch" },
	{ "dump-max-bytes", 0, OPT_INT, O(dump_max_bytes), 4096, 1e10, "16777216", "N", "a dump file stops growing past this" },
	{ "verbose", 'v', OPT_FLAG, O(verbose), 0, 0, NULL, NULL, "log debug messages" },
};
#undef O

int main(int argc, char **argv)
{
	struct prober_cfg cfg = { 0 };
	char name[WIRE_NAME_MAX] = { 0 };
	char err[512];
	int rc = opts_parse(prober_opts, OPTS_LEN(prober_opts), &cfg, argc, argv, err, sizeof(err));
	int code = opts_main_result(rc, "prober", "prober [options]",
				    "Answers faultmesh probes and probes targets on many ECMP flows, "
				    "reporting per-flow loss and RTT to the collector.",
				    prober_opts, OPTS_LEN(prober_opts), err);

	if (code >= 0)
		return code;
	log_init("prober", cfg.verbose ? LOG_DEBUG : LOG_INFO);
	if (cfg.name) {
		snprintf(name, sizeof(name), "%s", cfg.name);
	} else if (!cfg.targets && !cfg.targets_from_collector) {
		/* a responder only: it reports nothing, so no spool and no name file */
		if (gethostname(name, sizeof(name) - 1) < 0)
			snprintf(name, sizeof(name), "prober");
	} else if (prober_name_default(cfg.spool, name, sizeof(name), err, sizeof(err)) < 0) {
		log_msg(LOG_ERR, "no default name: %s", err);
		return 1;
	}
	cfg.name = name;
	return prober_daemon_run(&cfg);
}
