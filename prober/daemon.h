/* The prober daemon: opens the responder, pinger, netlink, spool and uplink
 * from a parsed config, drops privileges and runs the single-threaded event
 * loop that ties them together until signalled or --duration ends. */
#ifndef FM_DAEMON_H
#define FM_DAEMON_H

/* The prober's configuration: filled by main.c's option table, one field
 * per option (the defaults live in that table). */
struct prober_cfg {
	const char *targets;      /* targets file; none: responder only */
	const char *collector;    /* ADDR:PORT of the collector; none: spool only */
	int targets_from_collector; /* the targets are the collector's plan for us */
	long long targets_refresh_ms; /* re-read or re-fetch the targets this often; 0 = SIGHUP only */
	const char *name;         /* prober name in reports; main.c sets the default */
	const char *spool;        /* spool directory */
	long long spool_max_bytes; /* spool bound; oldest batches dropped beyond */
	const char *key;          /* hex shared key for wire frames */
	long long interval_ms;    /* reporting interval */
	double jitter;            /* +- fraction of the interval, random per interval */
	long long flows;          /* default flows per target */
	double rate;              /* default probes/s per target */
	long long dscp;           /* default DSCP */
	const char *proto;        /* default probe kind */
	long long port;           /* default responder port of targets */
	long long sport_base;     /* first flow source port */
	double pps_max;           /* global probe rate cap */
	long long timeout_ms;     /* reply deadline */
	long long down_intervals; /* silent intervals before target_down */
	long long listen_port;    /* our responder's UDP port */
	long long tcp_port;       /* our responder's TCP port, 0 = off */
	double resp_rate;         /* responder answers/s per source */
	double resp_burst;        /* responder bucket depth per source */
	double resp_global_rate;  /* responder answers/s, all sources; 0 default */
	double resp_global_burst; /* responder bucket depth, all sources; 0 default */
	int no_responder;         /* do not answer probes */
	int no_ipv6;              /* responder: IPv4 only */
	int keep_caps;            /* do not drop capabilities (debugging) */
	long long duration_ms;    /* exit after this long; 0 = run until signalled */
	long long trace_ms;       /* re-trace every flow this often; 0 = no tracing */
	long long trace_lossy_ms; /* a lossy flow's path older than this is re-traced */
	long long trace_busy;     /* flows in the tracers at once */
	long long trace_router_ms; /* one probe per router this often after a burst (0: unpaced) */
	const char *dump;         /* pcap of the lossy flows on SIGUSR1 and at exit; NULL: SIGUSR1 only, into the spool */
	long long dump_ring;      /* packets kept for a dump; 0 = no dumps */
	long long dump_span_ms;   /* a dump covers this last stretch */
	long long dump_max_bytes; /* a dump file's size bound */
	int verbose;              /* log debug messages */
};
/* Run the prober with cfg (cfg->name already resolved, never NULL) until
 * SIGTERM/SIGINT or cfg->duration_ms. SIGHUP refreshes the targets. Logs
 * its own errors (it is the edge). Returns the process exit code. */
int prober_daemon_run(const struct prober_cfg *cfg);

#endif
