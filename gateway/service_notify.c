/* sd_notify(3) for sangwd.service: see service_notify.h. */
#include "service_notify.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "../cluster/cluster.h"
#include "event_loop.h"
#include "log.h"
#include "model.h"

/* How often readiness and STATUS are looked at; the watchdog pings at half
 * its interval when that is shorter. */
#define NOTIFY_PERIOD_MS 500

#ifdef HAVE_SYSTEMD

/* The notifier of this process (one service, one main loop). */
static struct service_notifier {
	struct gateway *gw;
	struct ev_timer timer;
	uint64_t period_ms;
	bool watchdog;
	bool ready_sent;
	char status[160];
} notifier;

static bool node_serving(struct gateway *gw)
{
	return gw->cluster_ready && (!gw->cluster || cluster_ready(gw->cluster));
}

static void status_text(struct gateway *gw, char *out, size_t len)
{
	int used;

	if (!node_serving(gw)) {
		snprintf(out, len, "node %" PRIu32 ": waiting for quorum and the cluster's state; not serving",
			 gw->node_id);
		return;
	}
	used = snprintf(out, len, "node %" PRIu32 " serving; members", gw->node_id);
	if (gw->n_members == 0)
		used += snprintf(out + used, len - (size_t)used, " %" PRIu32, gw->node_id);
	for (unsigned i = 0; i < gw->n_members && used < (int)len; i++)
		used += snprintf(out + used, len - (size_t)used, "%s%" PRIu32, i ? "," : " ", gw->members[i]);
	if (used < (int)len)
		snprintf(out + used, len - (size_t)used, "; config version %" PRIu32 "%s",
			 gw->config_version, gw->promoted_node == gw->node_id ? "; promoted" : "");
}

static void tick(struct event_loop *loop, void *arg)
{
	struct service_notifier *n = arg;
	char status[sizeof(n->status)];

	status_text(n->gw, status, sizeof(status));
	if (!n->ready_sent && node_serving(n->gw)) {
		/* Portals listen since before the timer started: ready. */
		sd_notifyf(0, "READY=1\nSTATUS=%s", status);
		n->ready_sent = true;
		memcpy(n->status, status, sizeof(status));
		log_info("systemd: READY=1 (%s)", status);
	} else if (strcmp(status, n->status) != 0) {
		sd_notifyf(0, "STATUS=%s", status);
		memcpy(n->status, status, sizeof(status));
	}
	if (n->watchdog)
		sd_notify(0, "WATCHDOG=1");
	ev_timer_arm(loop, &n->timer, n->period_ms);
}

void service_notify_start(struct gateway *gw)
{
	uint64_t watchdog_us = 0;
	const char *socket = getenv("NOTIFY_SOCKET");

	if (!socket || !*socket)
		return;    /* not started by systemd as Type=notify */
	notifier.gw = gw;
	notifier.period_ms = NOTIFY_PERIOD_MS;
	if (sd_watchdog_enabled(0, &watchdog_us) > 0 && watchdog_us) {
		notifier.watchdog = true;
		if (watchdog_us / 2000 < notifier.period_ms)
			notifier.period_ms = watchdog_us / 2000 ? watchdog_us / 2000 : 1;
	}
	ev_timer_init(&notifier.timer, tick, &notifier);
	tick(gw->loop, &notifier);
}

void service_notify_reloading(void)
{
	if (notifier.gw)
		sd_notify(0, "RELOADING=1\nSTATUS=reloading the configuration");
}

void service_notify_reloaded(void)
{
	if (!notifier.gw)
		return;
	notifier.status[0] = '\0';       /* the next tick says STATUS again */
	sd_notify(0, notifier.ready_sent ? "READY=1" : "STATUS=reloaded; waiting for quorum");
}

void service_notify_stopping(void)
{
	if (!notifier.gw)
		return;
	sd_notify(0, "STOPPING=1\nSTATUS=stopping: sessions logging out, backstores flushing");
	ev_timer_cancel(notifier.gw->loop, &notifier.timer);
	notifier.gw = NULL;
}

#else /* !HAVE_SYSTEMD */

void service_notify_start(struct gateway *gw)
{
	const char *socket = getenv("NOTIFY_SOCKET");

	(void)gw;
	if (socket && *socket)
		log_warn("systemd: NOTIFY_SOCKET is set but sangwd was built without libsystemd: "
			 "no readiness notification (use Type=exec or rebuild with libsystemd-dev)");
}

void service_notify_reloading(void) {}
void service_notify_reloaded(void) {}
void service_notify_stopping(void) {}

#endif
