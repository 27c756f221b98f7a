/* triangulate serve: the fabric page live over HTTP. A refresh thread runs the
 * report's gathering (freport_gather) over the last window and keeps its
 * summary.json and page; device and link answers come from query_answer_build
 * on demand. Pages are static shells whose inline script polls the JSON API. */
#ifndef FM_TRIANGULATE_SERVE_H
#define FM_TRIANGULATE_SERVE_H

#include <stddef.h>
#include <stdint.h>

struct serve_cfg {
	const char *db;          /* the collector's SQLite file */
	const char *inventory;   /* inventory v1 file (NULL: names are addresses) */
	const char *listen;      /* ADDR:PORT */
	long long window_ms;     /* the live fit, heatmap and suspects: this last stretch */
	long long slice_ms;      /* timeline slice of the window (0: window/12) */
	long long since_ms;      /* drill-down pages look back this far */
	long long refresh_ms;    /* the window is gathered again this often */
	long long down_after_ms; /* a prober silent this long is down */
	long long until_ms;      /* fixed end of the window, Unix ms (0: now, moving) */
	long long conn_max;      /* open HTTP connections at once */
	long long timeout_ms;    /* an idle connection is closed after this */
};

struct serve;

/* Load the inventory, gather the window once (so the first page has data),
 * start the refresh thread and listen. Returns the server, or NULL with the
 * reason in err. */
struct serve *serve_start(const struct serve_cfg *cfg, char *err, size_t errlen);
/* The HTTP port bound. */
int serve_port(const struct serve *s);
/* Stop the server and the refresh thread, free. NULL is a no-op. */
void serve_stop(struct serve *s);

/* The pages (serve_pages.c): static text, the names they show come from the
 * page's URL and the API through textContent, never through the markup. */
extern const char serve_page_fabric[];
extern const char serve_page_subject[];

#endif
