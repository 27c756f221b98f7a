/* epoll loop: accept probers, move bytes between sockets and sessions, store
 * every batch that arrived in one loop round with one commit (group commit:
 * one fsync for many probers), then send the ACKs; close a connection after
 * its ERROR is flushed; run maintenance on a timer. One thread, so the store
 * is used from one place and needs no locks. */
#include "server.h"
#include "keys.h"
#include "log.h"
#include "store.h"
#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SERVER_READ_CHUNK 65536
#define SERVER_READS_PER_EVENT 16 /* fairness: then serve other peers */
#define SERVER_DRAIN_MS 2000      /* how long a closing peer may keep sending */
#define SERVER_DRAIN_BYTES (1u << 20)
#define SERVER_MAINT_BUDGET_MS 200 /* maintenance per turn; then serve again */

struct conn {
	int fd;
	char peer[80];
	struct sockaddr_storage addr; /* source address (port ignored) */
	struct session *sess;
	int64_t accepted_ms;   /* monotonic */
	int64_t last_rx_ms;    /* monotonic */
	int64_t frame_start_ms; /* monotonic, when the frame in progress began; 0 none */
	int paused;            /* not reading: its next frame waits for budget room */
	int64_t closing_at_ms; /* monotonic, when the ERROR was queued; 0 open */
	size_t drained;        /* bytes discarded while closing */
	int wr_shut;           /* SHUT_WR done after flushing the ERROR */
	int eof;               /* peer closed or failed: finish the round, close */
	int in_round;          /* listed in server.round */
	uint32_t events;       /* epoll events registered */
	struct conn *prev, *next;
};

struct server {
	struct server_cfg cfg;
	int lfd, efd, wakefd, port;
	struct conn *conns;
	unsigned nconns;
	struct session_env env;
	struct session_stats stats;
	struct log_limit lim_reject, lim_accept, lim_note;
	int64_t next_maint_ms;
	int64_t accept_resume_ms; /* accepting paused (out of fds) until then */
	struct conn **round;   /* connections that got input this loop round */
	size_t nround, round_cap;
	struct ingest_budget budget;
	int trim_due;          /* big buffers freed: hand memory back to the OS */
	int64_t next_trim_ms;
};

static void round_add(struct server *s, struct conn *c);
static int server_name_claim(void *arg, const struct session *self, const char *name,
			     char *err, size_t errlen);

static struct log_limit *note_lim;

static void server_note(const char *peer, const char *msg)
{
	log_limited(note_lim, 20, LOG_WARN, "%s: %s", peer, msg);
}

static int listen_addr_parse(const char *spec, struct addrinfo **res,
			     char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	const char *h = host;
	struct addrinfo hints = { 0 };
	size_t hl;
	int rc;

	if (!colon || colon == spec) {
		snprintf(err, errlen, "--listen '%s': expected ADDR:PORT", spec);
		return -1;
	}
	hl = (size_t)(colon - spec);
	if (hl >= sizeof(host)) {
		snprintf(err, errlen, "--listen '%s': address too long", spec);
		return -1;
	}
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		h = host + 1;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(*h && strcmp(h, "*") ? h : NULL, colon + 1, &hints, res);
	if (rc) {
		snprintf(err, errlen, "--listen '%s': %s", spec, gai_strerror(rc));
		return -1;
	}
	return 0;
}

static void sockaddr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
}

struct server *server_create(const struct server_cfg *cfg, char *err,
			     size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));
	struct addrinfo *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct epoll_event ev = { 0 };
	int one = 1;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->cfg = *cfg;
	if (!s->cfg.handshake_timeout_ms)
		s->cfg.handshake_timeout_ms = SERVER_HANDSHAKE_TIMEOUT_MS_DEFAULT;
	if (!s->cfg.frame_timeout_ms)
		s->cfg.frame_timeout_ms = SERVER_FRAME_TIMEOUT_MS_DEFAULT;
	if (!s->cfg.max_conns_per_addr)
		s->cfg.max_conns_per_addr = SERVER_MAX_CONNS_PER_ADDR_DEFAULT;
	if (!s->cfg.ingest_budget_bytes)
		s->cfg.ingest_budget_bytes = SERVER_INGEST_BUDGET_BYTES_DEFAULT;
	/* one largest frame always fits, so a waiting frame is never stuck */
	if (s->cfg.ingest_budget_bytes < WIRE_HEADER_LEN + WIRE_FRAME_MAX)
		s->cfg.ingest_budget_bytes = WIRE_HEADER_LEN + WIRE_FRAME_MAX;
	s->budget.limit_bytes = s->cfg.ingest_budget_bytes;
	s->lfd = s->efd = s->wakefd = -1;
	s->env.store = cfg->store;
	s->env.keys = cfg->keys;
	s->env.plan = cfg->plan;
	s->env.stats = &s->stats;
	s->env.budget = &s->budget;
	s->env.name_claim_cb = server_name_claim;
	s->env.name_claim_arg = s;
	s->env.now_ms = clock_real_ms;
	s->env.note = server_note;
	note_lim = &s->lim_note;
	if (listen_addr_parse(cfg->listen, &res, err, errlen) < 0)
		goto err;
	s->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 ||
	    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s->lfd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(s->lfd, 1024) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(err, errlen, "listen on %s: %s", cfg->listen, strerror(errno));
		goto err;
	}
	s->port = ntohs(ss.ss_family == AF_INET6
				? ((struct sockaddr_in6 *)&ss)->sin6_port
				: ((struct sockaddr_in *)&ss)->sin_port);
	s->efd = epoll_create1(EPOLL_CLOEXEC);
	s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0 || s->wakefd < 0) {
		snprintf(err, errlen, "epoll/eventfd: %s", strerror(errno));
		goto err;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = &s->lfd;
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, s->lfd, &ev) < 0)
		goto err_ctl;
	ev.data.ptr = &s->wakefd;
	if (epoll_ctl(s->efd, EPOLL_CTL_ADD, s->wakefd, &ev) < 0)
		goto err_ctl;
	freeaddrinfo(res);
	return s;
err_ctl:
	snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
err:
	if (res)
		freeaddrinfo(res);
	server_destroy(s);
	return NULL;
}

int server_port(const struct server *s)
{
	return s->port;
}

const struct session_stats *server_stats(const struct server *s)
{
	return &s->stats;
}

void server_plan_set(struct server *s, const struct plan_targets *plan)
{
	s->env.plan = plan;
}

void server_keys_set(struct server *s, const struct keyring *keys)
{
	s->env.keys = keys;
}

int server_keys_reload(struct server *s, const char *path, struct keyring **keys, char *err,
		       size_t errlen)
{
	struct keyring *k;

	if (!path)
		return 0;
	k = keyring_load(path, err, errlen);
	if (!k)
		return -1;
	server_keys_set(s, k);
	keyring_free(*keys);
	*keys = k;
	return 0;
}

void server_stop(struct server *s)
{
	uint64_t one = 1;
	ssize_t rc = write(s->wakefd, &one, sizeof(one));

	(void)rc; /* a full eventfd is already a pending wakeup */
}

static void conn_close(struct server *s, struct conn *c)
{
	s->trim_due = 1;
	epoll_ctl(s->efd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nconns--;
	session_free(c->sess);
	free(c);
}

static void conn_events_set(struct server *s, struct conn *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = c };

	if (events == c->events)
		return;
	if (epoll_ctl(s->efd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = events;
}


static int addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
			       &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
	return 0;
}

/* All slots taken: close the oldest connection that has not finished its
 * handshake, else the longest idle one if idle long enough; 0 if one was
 * closed, -1 if every connection is a busy prober (refuse the new one). */
static int conn_evict(struct server *s, const char *for_peer)
{
	struct conn *c, *victim = NULL;
	int64_t now = clock_mono_ms();

	for (c = s->conns; c; c = c->next)
		if (!c->eof && !session_authenticated(c->sess) &&
		    (!victim || c->accepted_ms < victim->accepted_ms))
			victim = c;
	if (!victim)
		for (c = s->conns; c; c = c->next)
			if (!c->eof && now - c->last_rx_ms >= SERVER_EVICT_IDLE_MS &&
			    (!victim || c->last_rx_ms < victim->last_rx_ms))
				victim = c;
	if (!victim)
		return -1;
	log_limited(&s->lim_accept, 5, LOG_WARN,
		    "%s: closing: %s, evicted for %s (%u connections open)", victim->peer,
		    session_authenticated(victim->sess) ? "idle" : "handshake not done", for_peer,
		    s->nconns);
	/* closed when this round ends: its events may still be in this batch */
	victim->eof = 1;
	shutdown(victim->fd, SHUT_RDWR);
	round_add(s, victim);
	return 0;
}

/* session_env name_claim_cb: one live session per prober name. Two probers
 * sharing a name would share batch numbering; the second is refused with
 * both peers named. A holder silent for SERVER_TAKEOVER_IDLE_MS is taken for
 * a dead connection (a prober reconnecting after a network break) and
 * replaced. */
static int server_name_claim(void *arg, const struct session *self, const char *name,
			     char *err, size_t errlen)
{
	struct server *s = arg;
	int64_t now = clock_mono_ms();
	struct conn *c;

	for (c = s->conns; c; c = c->next) {
		if (c->sess == self || c->eof || c->closing_at_ms ||
		    !session_name_claimed(c->sess) || strcmp(session_prober(c->sess), name) != 0)
			continue;
		if (now - c->last_rx_ms >= SERVER_TAKEOVER_IDLE_MS) {
			log_limited(&s->lim_reject, 10, LOG_WARN,
				    "%s prober %s: closing: silent %lld ms, replaced by a new session from %s",
				    c->peer, name, (long long)(now - c->last_rx_ms),
				    session_peer(self));
			c->eof = 1;
			shutdown(c->fd, SHUT_RDWR);
			round_add(s, c);
			continue;
		}
		snprintf(err, errlen,
			 "prober name %s already has a live session from %s; refusing the second one from %s (give each prober its own --name and --spool)",
			 name, c->peer, session_peer(self));
		return -1;
	}
	return 0;
}

static unsigned conns_from(const struct server *s, const struct sockaddr_storage *ss)
{
	const struct conn *c;
	unsigned n = 0;

	for (c = s->conns; c; c = c->next)
		n += addr_same(&c->addr, ss);
	return n;
}

static void server_accept(struct server *s)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct epoll_event ev = { 0 };
		struct conn *c;
		int one = 1;
		int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				struct epoll_event ev = { 0 };

				/* the pending connection stays ready: without a
				 * pause, level-triggered epoll would spin */
				log_limited(&s->lim_accept, 5, LOG_WARN,
					    "accept: %s; pausing accepts for 1 s",
					    strerror(errno));
				ev.data.ptr = &s->lfd;
				epoll_ctl(s->efd, EPOLL_CTL_MOD, s->lfd, &ev);
				s->accept_resume_ms = clock_mono_ms() + 1000;
			} else if (errno != EAGAIN && errno != EWOULDBLOCK &&
				   errno != EINTR && errno != ECONNABORTED) {
				log_limited(&s->lim_accept, 5, LOG_WARN,
					    "accept: %s", strerror(errno));
			}
			return;
		}
		{
			char peer[80];
			unsigned from = conns_from(s, &ss);

			sockaddr_text((struct sockaddr *)&ss, peer, sizeof(peer));
			if (from >= s->cfg.max_conns_per_addr) {
				log_limited(&s->lim_accept, 5, LOG_WARN,
					    "%s: refused, %u connections open from this address (--max-conns-per-addr)",
					    peer, from);
				close(fd);
				continue;
			}
			if (s->nconns >= s->cfg.max_conns && conn_evict(s, peer) < 0) {
				log_limited(&s->lim_accept, 5, LOG_WARN,
					    "%s: refused, %u connections open", peer,
					    s->nconns);
				close(fd);
				continue;
			}
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		/* ACKs are small and the prober waits for them */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->addr = ss;
		sockaddr_text((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
		c->sess = session_new(&s->env, c->peer);
		c->accepted_ms = c->last_rx_ms = clock_mono_ms();
		ev.events = c->events = EPOLLIN;
		ev.data.ptr = c;
		if (!c->sess || epoll_ctl(s->efd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			session_free(c->sess);
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
		log_msg(LOG_DEBUG, "%s: connected", c->peer);
	}
}

/* Send what the session has queued; returns -1 if the connection is dead. */
static int conn_flush(struct server *s, struct conn *c)
{
	size_t len;
	const uint8_t *p = session_output(c->sess, &len);

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -1;
		}
		session_output_consumed(c->sess, (size_t)n);
		p = session_output(c->sess, &len);
	}
	if (c->eof)
		return 0; /* closing now: no more events wanted */
	if (len > 0) {
		conn_events_set(s, c, (c->paused ? 0 : EPOLLIN) | EPOLLOUT);
		return 0;
	}
	conn_events_set(s, c, c->paused ? 0 : EPOLLIN);
	if (c->closing_at_ms && !c->wr_shut) {
		/* ERROR is out: FIN now, and read until the peer closes, so our
		 * close does not RST the ERROR away with unread input */
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = 1;
	}
	return 0;
}

static void round_add(struct server *s, struct conn *c)
{
	if (c->in_round)
		return;
	if (s->nround == s->round_cap) {
		size_t cap = s->round_cap ? s->round_cap * 2 : 64;
		struct conn **nr = realloc(s->round, cap * sizeof(*nr));

		if (!nr) {
			/* cannot track it: treat as a failed connection */
			conn_close(s, c);
			return;
		}
		s->round = nr;
		s->round_cap = cap;
	}
	c->in_round = 1;
	s->round[s->nround++] = c;
}

static void conn_readable(struct server *s, struct conn *c)
{
	static uint8_t buf[SERVER_READ_CHUNK];
	int i;

	for (i = 0; i < SERVER_READS_PER_EVENT && !c->eof; i++) {
		size_t want = sizeof(buf);
		ssize_t n;

		if (!c->closing_at_ms) {
			/* never read past what the session may hold: before HELLO
			 * a HELLO, after it one frame with its budget room */
			want = session_input_room(c->sess);
			if (want == 0) {
				if (!session_close_reason(c->sess)[0]) {
					c->paused = 1; /* backpressure: wait for room */
					conn_events_set(s, c, c->events & ~(uint32_t)EPOLLIN);
				}
				break;
			}
			if (want > sizeof(buf))
				want = sizeof(buf);
		}
		n = recv(c->fd, buf, want, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			/* what arrived before the close is still stored and
			 * acked (a half-closed peer can read the ACKs) */
			log_msg(LOG_DEBUG, "%s: %s%s%s", c->peer,
				n == 0 ? "closed by peer" : strerror(errno),
				session_buffered(c->sess) ? " mid-frame" : "",
				c->closing_at_ms ? " after ERROR" : "");
			c->eof = 1;
			conn_events_set(s, c, 0);
			break;
		}
		c->last_rx_ms = clock_mono_ms();
		if (c->closing_at_ms) {
			c->drained += (size_t)n;
			if (c->drained > SERVER_DRAIN_BYTES)
				c->eof = 1;
			continue;
		}
		if (!session_buffered(c->sess))
			c->frame_start_ms = c->last_rx_ms;
		session_input(c->sess, buf, (size_t)n);
		if (!session_buffered(c->sess))
			c->frame_start_ms = 0; /* the frame is whole */
	}
	round_add(s, c);
}

/* Room was released: connections whose next frame waited read again. */
static void server_paused_resume(struct server *s)
{
	struct conn *c;

	if (!s->budget.waiting)
		return;
	for (c = s->conns; c && s->budget.waiting; c = c->next) {
		if (!c->paused || !session_budget_retry(c->sess))
			continue;
		c->paused = 0;
		c->frame_start_ms = clock_mono_ms();
		conn_events_set(s, c, c->events | EPOLLIN);
	}
}

/* Store what the round's sessions decoded, in one transaction, then queue
 * their ACKs (only after the commit) and any ERROR, and send. */
static void server_round_finish(struct server *s)
{
	int pending = 0, committed = 0;
	size_t i;

	for (i = 0; i < s->nround; i++)
		if (session_pending(s->round[i]->sess))
			pending = 1;
	if (pending) {
		if (store_group_begin(s->cfg.store) == 0) {
			for (i = 0; i < s->nround; i++)
				if (session_pending(s->round[i]->sess))
					session_pending_add(s->round[i]->sess);
			committed = store_group_commit(s->cfg.store) == 0;
		}
		if (!committed)
			log_limited(&s->lim_reject, 10, LOG_ERR, "store: %s",
				    store_error(s->cfg.store));
	}
	for (i = 0; i < s->nround; i++) {
		struct conn *c = s->round[i];

		c->in_round = 0;
		session_round_end(c->sess, committed);
		if (session_close_reason(c->sess)[0] && !c->closing_at_ms) {
			const char *pr = session_prober(c->sess);

			log_limited(&s->lim_reject, 10, LOG_WARN,
				    "%s%s%s: closing: %s", c->peer,
				    pr[0] ? " prober " : "", pr,
				    session_close_reason(c->sess));
			c->closing_at_ms = clock_mono_ms();
		}
		if (conn_flush(s, c) < 0 || c->eof)
			conn_close(s, c);
	}
	s->nround = 0;
	server_paused_resume(s);
}

static void server_timers_run(struct server *s)
{
	int64_t now = clock_mono_ms();
	struct conn *c, *next;

	for (c = s->conns; c; c = next) {
		const char *why = NULL;
		int64_t age = 0;

		next = c->next;
		if (c->closing_at_ms) {
			if (now - c->closing_at_ms > SERVER_DRAIN_MS)
				conn_close(s, c);
			continue;
		}
		if (c->paused)
			continue; /* we stopped reading it: not the peer's fault */
		/* deadlines a slow peer cannot stretch by trickling bytes */
		if (!session_authenticated(c->sess) &&
		    now - c->accepted_ms > s->cfg.handshake_timeout_ms) {
			why = "no HELLO within the handshake deadline";
			age = now - c->accepted_ms;
		} else if (c->frame_start_ms &&
			   now - c->frame_start_ms > s->cfg.frame_timeout_ms) {
			why = "frame not complete within the frame deadline";
			age = now - c->frame_start_ms;
		} else if (s->cfg.idle_timeout_ms > 0 &&
			   now - c->last_rx_ms > s->cfg.idle_timeout_ms) {
			why = "idle";
			age = now - c->last_rx_ms;
		}
		if (why) {
			log_limited(&s->lim_reject, 10, LOG_INFO, "%s: closing: %s (%lld ms)",
				    c->peer, why, (long long)age);
			conn_close(s, c);
		}
	}
	/* freed frame buffers go back to the OS, not only to malloc's free
	 * lists (memory returned when hostile connections close) */
	if (s->trim_due && now >= s->next_trim_ms) {
		malloc_trim(0);
		s->trim_due = 0;
		s->next_trim_ms = now + 1000;
	}
	server_paused_resume(s);
	if (s->accept_resume_ms && now >= s->accept_resume_ms) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &s->lfd };

		if (epoll_ctl(s->efd, EPOLL_CTL_MOD, s->lfd, &ev) == 0)
			s->accept_resume_ms = 0;
	}
	if (s->cfg.maintenance_ms > 0 && now >= s->next_maint_ms) {
		struct store_retention_stats st;
		int64_t t0 = clock_mono_ms();

		/* bounded, so a backlog (first start on an old database) does
		 * not hold up the probers' ACKs for long */
		if (store_maintenance_run(s->cfg.store, clock_real_ms(), s->cfg.raw_keep_ms,
					  s->cfg.rollup_keep_ms, SERVER_MAINT_BUDGET_MS,
					  &st) < 0)
			log_msg(LOG_ERR, "maintenance: %s", store_error(s->cfg.store));
		else if (st.batches_rolled || st.batches_expired || st.rollups_deleted)
			log_msg(LOG_INFO,
				"maintenance: rolled up %llu batches, expired raw results of %llu, "
				"deleted %llu hourly rollups (%lld ms)",
				(unsigned long long)st.batches_rolled,
				(unsigned long long)st.batches_expired,
				(unsigned long long)st.rollups_deleted,
				(long long)(clock_mono_ms() - t0));
		s->next_maint_ms = clock_mono_ms() + (st.more ? SERVER_MAINT_BUDGET_MS
							: s->cfg.maintenance_ms);
	}
}

int server_run(struct server *s, char *err, size_t errlen)
{
	struct epoll_event evs[64];

	/* first maintenance one period after start, not during startup (a
	 * server_run after a stop keeps the schedule) */
	if (!s->next_maint_ms)
		s->next_maint_ms = clock_mono_ms() + s->cfg.maintenance_ms;
	for (;;) {
		int n, i;

		n = epoll_wait(s->efd, evs, 64, 500);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "epoll_wait: %s", strerror(errno));
			return -1;
		}
		for (i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;
			struct conn *c = tag;

			if (tag == &s->wakefd) {
				uint64_t v;
				ssize_t rc = read(s->wakefd, &v, sizeof(v));

				(void)rc; /* drained, so a next server_run waits again */
				return 0;
			}
			if (tag == &s->lfd) {
				server_accept(s);
				continue;
			}
			/* only c itself can be closed while handling its event,
			 * and an fd appears once per round: no stale pointers */
			if ((evs[i].events & (EPOLLERR | EPOLLHUP)) && c->paused) {
				/* gone while we were not reading it: close it now, or
				 * the hangup would be reported on every turn */
				c->eof = 1;
				round_add(s, c);
				continue;
			}
			if (evs[i].events & (EPOLLERR | EPOLLHUP | EPOLLIN)) {
				conn_readable(s, c);
				continue;
			}
			if ((evs[i].events & EPOLLOUT) && conn_flush(s, c) < 0)
				conn_close(s, c);
		}
		server_round_finish(s);
		server_timers_run(s);
	}
}

void server_destroy(struct server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s, s->conns);
	free(s->round);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->efd >= 0)
		close(s->efd);
	if (s->wakefd >= 0)
		close(s->wakefd);
	free(s);
}
