/* The Alertmanager sink: each event POSTed to the v2 API as a one-alert array;
 * refreshes push endsAt forward so Alertmanager keeps a live alert firing and
 * lets it lapse by itself if the watch dies. */
#include "alert_sink.h"
#include "http_curl.h"
#include "clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int alert_sink_am_deliver(void *ctx, const struct alert_sink_env *env,
				 enum alert_event ev, const struct alert *a,
				 char *err, size_t errlen)
{
	const char *url = ctx;
	char *body = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&body, &len);
	int status;

	if (!mem) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (alert_am_body_write(mem, env, ev, a, clock_real_ms()) < 0 ||
	    fclose(mem) != 0) {
		free(body);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	status = http_post(url, "/api/v2/alerts", "application/json", body, len,
			   env->timeout_ms, err, errlen);
	free(body);
	if (status < 0)
		return -1;
	if (status != 200) {
		snprintf(err, errlen, "%s/api/v2/alerts answered HTTP %d", url, status);
		return -1;
	}
	return 0;
}

const struct alert_sink_ops alert_sink_am_ops = {
	.name = "alertmanager",
	.deliver = alert_sink_am_deliver,
};
